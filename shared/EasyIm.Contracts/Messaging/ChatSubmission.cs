using EasyIm.Contracts.Gateway;

namespace EasyIm.Contracts.Messaging;

/// <summary>
/// A chat message (msg_type 0-3) as the sender's connection sent it: chat_type, to_user_id,
/// msg_type, content, seq and client_msg_id are the client's; the sender is the connection's
/// authenticated user.
/// </summary>
public sealed record ChatSubmission(long SenderId, string ConnectionId, WireMessage Message);
