namespace EasyIm.Contracts.Gateway;

/// <summary>
/// One message for every live connection of a user, except <paramref name="SkipConnectionId"/>
/// (the sender's own); or for one connection only, <paramref name="OnlyConnectionId"/> (a sync after its handshake).
/// <paramref name="Sync"/> marks the pages of a sync and its closing SYNC event; the closing event
/// also carries <paramref name="SyncedThrough"/>: each of the user's conversations and the last seq
/// the sync covered. From these the gateway knows which seq comes next in every conversation, and
/// writes each conversation to the connection in seq order even when pushes arrive out of order.
/// <paramref name="AlsoUserIds"/> are more users who get the same message on every live connection
/// (a group's members on one gateway): one push, and one copy of the message, for all of them.
/// </summary>
public sealed record UserPush(
    long UserId,
    WireMessage Message,
    string? SkipConnectionId = null,
    string? OnlyConnectionId = null,
    bool Sync = false,
    IReadOnlyDictionary<string, ulong>? SyncedThrough = null,
    IReadOnlyList<long>? AlsoUserIds = null);
