namespace EasyIm.Contracts.Gateway;

/// <summary>
/// One message for every live connection of a user, except <paramref name="SkipConnectionId"/>
/// (the sender's own); or for one connection only, <paramref name="OnlyConnectionId"/> (a sync after its handshake).
/// <paramref name="Sync"/> marks the pages of a sync and its closing SYNC event: around the
/// connect-time sync the gateway holds other chat messages back, so a client sees each
/// conversation in seq order.
/// </summary>
public sealed record UserPush(long UserId, WireMessage Message, string? SkipConnectionId = null, string? OnlyConnectionId = null, bool Sync = false);
