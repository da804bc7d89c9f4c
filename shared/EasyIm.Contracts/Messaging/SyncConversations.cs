namespace EasyIm.Contracts.Messaging;

/// <summary>
/// A connection's SYNC: the messages after <paramref name="Cursors"/> (conversation id to the
/// last seq the device has), or after the user's ARRIVED cursors when null, pushed to that
/// connection in order and closed by the SYNC event with done:true.
/// <paramref name="GapFill"/>: the gateway's own ask for a gap in a live connection (a stored message
/// whose push was lost): only the conversations <paramref name="Cursors"/> names, and the closing push,
/// marked <see cref="Gateway.UserPush.GapFill"/>, is for the gateway, not the client.
/// </summary>
public sealed record SyncConversations(
    long UserId,
    string ConnectionId,
    IReadOnlyDictionary<string, ulong>? Cursors,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)] bool GapFill = false);
