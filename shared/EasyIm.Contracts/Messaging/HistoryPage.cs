using EasyIm.Contracts.Gateway;

namespace EasyIm.Contracts.Messaging;

/// <param name="Total">How many messages the conversation holds (its last conversation_seq).</param>
/// <param name="Items">Newest first.</param>
/// <param name="RetainedFromSeq">The first seq retention has kept: older messages were deleted (1 when none were).
/// Defaults to 1 for a reply from a messaging version without retention.</param>
public sealed record HistoryPage(ulong Total, IReadOnlyList<WireMessage> Items, ulong RetainedFromSeq = 1);
