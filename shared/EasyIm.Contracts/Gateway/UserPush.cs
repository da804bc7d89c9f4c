namespace EasyIm.Contracts.Gateway;

/// <summary>One message for every live connection of a user, except <paramref name="SkipConnectionId"/> (the sender's own).</summary>
public sealed record UserPush(long UserId, WireMessage Message, string? SkipConnectionId = null);
