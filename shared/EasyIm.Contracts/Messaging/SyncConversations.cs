using System.Text.Json.Serialization;

namespace EasyIm.Contracts.Messaging;

/// <summary>
/// A connection's SYNC: the messages after <paramref name="Cursors"/> (conversation id to the
/// last seq the device has), or after the user's ARRIVED cursors when null, closed by the SYNC event
/// with done:true.
/// <para>
/// Sent as a request (the gateway's way since the budgets), it is answered with one bounded
/// <see cref="SyncPage"/>: the gateway writes it to the connection, waits until the connection has
/// read it, and asks for the next page with the page's <see cref="SyncPage.Resume"/> in
/// <paramref name="Resume"/>, so messaging never reads ahead of the client nor for a connection that is
/// gone. Published (gateways before the budgets, and the gap fill), messaging pushes every page itself.
/// </para>
/// <paramref name="GapFill"/>: the gateway's own ask for a gap in a live connection (a stored message
/// whose push was lost): only the conversations <paramref name="Cursors"/> names, and the closing push,
/// marked <see cref="Gateway.UserPush.GapFill"/>, is for the gateway, not the client.
/// <paramref name="After"/>: the device's position in the user's update stream (a SYNC's <c>after</c>): the messages
/// stored at later positions, whatever the conversation, and <paramref name="Cursors"/> is not used.
/// With <paramref name="GapFill"/> and <paramref name="UpTo"/>: the gateway found positions After+1..UpTo missing
/// among those it wrote to a live connection; messaging pushes the events at those positions and the conversations of
/// the messages there (from the first one on), and closes with a push marked GapFill whose SYNC event's head is UpTo.
/// </summary>
public sealed record SyncConversations(
    long UserId,
    string ConnectionId,
    IReadOnlyDictionary<string, ulong>? Cursors,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool GapFill = false,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] SyncResume? Resume = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] long? After = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] long? UpTo = null);
