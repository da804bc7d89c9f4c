using System.Text.Json.Serialization;
using EasyIm.Contracts.Gateway;

namespace EasyIm.Contracts.Messaging;

/// <summary>
/// A chat message (msg_type 0-3) as the sender's connection sent it: chat_type, to_user_id,
/// msg_type, content, seq and client_msg_id are the client's; the sender is the connection's
/// authenticated user. <paramref name="PreviousClientMsgId"/> is the client_msg_id of the chat message the
/// connection sent before this one (null for its first): messaging stores a connection's messages only in
/// an unbroken chain, so that a lost batch is never overtaken by a later one (see SubmissionChain).
/// <paramref name="TraceParent"/> is the W3C trace context of the message's receive span, set only while
/// tracing is on: each message of a batch keeps its own trace.
/// </summary>
public sealed record ChatSubmission(
    long SenderId,
    string ConnectionId,
    WireMessage Message,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] string? PreviousClientMsgId = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] string? TraceParent = null);
