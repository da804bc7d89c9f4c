namespace EasyIm.Contracts.Messaging;

/// <summary>
/// A connection's SYNC: the messages after <paramref name="Cursors"/> (conversation id to the
/// last seq the device has), or after the user's ARRIVED cursors when null, pushed to that
/// connection in order and closed by the SYNC event with done:true.
/// </summary>
public sealed record SyncConversations(long UserId, string ConnectionId, IReadOnlyDictionary<string, ulong>? Cursors);
