using EasyIm.Contracts.Gateway;

namespace EasyIm.Contracts.Messaging;

/// <param name="PeerId">The other user of a one-to-one conversation, or the group id.</param>
/// <param name="Unread">Messages after the user's READ cursor.</param>
public sealed record ConversationSummary(string ConversationId, int ChatType, long PeerId, WireMessage? LastMessage, ulong Unread);
