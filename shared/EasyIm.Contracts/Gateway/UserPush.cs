namespace EasyIm.Contracts.Gateway;

/// <summary>
/// One message for every live connection of a user, except <paramref name="SkipConnectionId"/>
/// (the sender's own); or for one connection only, <paramref name="OnlyConnectionId"/> (a sync after its handshake).
/// </summary>
public sealed record UserPush(long UserId, WireMessage Message, string? SkipConnectionId = null, string? OnlyConnectionId = null);
