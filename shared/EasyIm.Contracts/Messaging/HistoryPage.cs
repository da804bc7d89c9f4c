using EasyIm.Contracts.Gateway;

namespace EasyIm.Contracts.Messaging;

/// <param name="Total">How many messages the conversation holds (its last conversation_seq).</param>
/// <param name="Items">Newest first.</param>
public sealed record HistoryPage(ulong Total, IReadOnlyList<WireMessage> Items);
