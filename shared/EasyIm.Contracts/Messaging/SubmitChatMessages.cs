namespace EasyIm.Contracts.Messaging;

/// <summary>
/// Chat messages from one gateway's connections, many per bus message (flushed after a few
/// milliseconds or a full batch). Messaging answers each with a SENT ack or a FAIL, as a
/// <see cref="Gateway.PushToUsers"/> to the sender's connection.
/// </summary>
public sealed record SubmitChatMessages(string GatewayId, IReadOnlyList<ChatSubmission> Messages);
