using System.Text.Json.Serialization;

namespace EasyIm.Contracts.Gateway;

/// <summary>
/// One message for every live connection of a user, except <paramref name="SkipConnectionId"/>;
/// or for one connection only, <paramref name="OnlyConnectionId"/> (a sync after its handshake, a FAIL).
/// <paramref name="Sync"/> marks the pages of a sync and its closing SYNC event; the closing event
/// also carries <paramref name="SyncedThrough"/>: each of the user's conversations and the last seq
/// the sync covered. From these the gateway knows which seq comes next in every conversation, and
/// writes each conversation to the connection in seq order even when pushes arrive out of order.
/// <paramref name="AlsoUserIds"/> are more users who get the same message on every live connection
/// (a group's members on one gateway): one push, and one copy of the message, for all of them.
/// <paramref name="AckConnectionId"/> marks a stored message going back to its sender's gateway: that
/// connection gets it as its SENT ack, with the client's own <paramref name="AckSeq"/>; the sender's
/// other connections on the gateway get the stored message as it is. <paramref name="Close"/>, with
/// <paramref name="OnlyConnectionId"/>, closes that connection after writing the message (a FAIL telling
/// the client to reconnect and send again what got no SENT ack). <paramref name="GapFill"/> marks the
/// closing push of a gap fill (<see cref="Messaging.SyncConversations.GapFill"/>): the gateway takes its
/// <paramref name="SyncedThrough"/> and writes nothing to the client.
/// </summary>
/// <paramref name="TraceParent"/> is the W3C trace context of the span that stored the message (only
/// while tracing is on), so the gateway's push span joins the message's trace.
/// <paramref name="Positions"/> are the message's positions in the users' update streams, one per user in the order
/// <paramref name="UserId"/>, then <paramref name="AlsoUserIds"/> (0: none for that user); the gateway writes each
/// user's to its frames as <c>position</c>.
/// <remarks>Optional fields at their default are left out of the bus message, as in <see cref="WireMessage"/>.</remarks>
public sealed record UserPush(
    long UserId,
    WireMessage Message,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] string? SkipConnectionId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] string? OnlyConnectionId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Sync = false,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] IReadOnlyDictionary<string, ulong>? SyncedThrough = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] IReadOnlyList<long>? AlsoUserIds = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] string? AckConnectionId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint AckSeq = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Close = false,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] string? TraceParent = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool GapFill = false,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] IReadOnlyList<long>? Positions = null);
