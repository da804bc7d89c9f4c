namespace EasyIm.Contracts.Messaging;

/// <summary>
/// "Read by": how far each other participant of a conversation has received (ARRIVED) and read (READ) it, for a
/// participant only. Replies <see cref="ReceiptCursorList"/> or <see cref="RequestRejected"/> (400 bad id, 403 not a
/// participant). A message with seq S is delivered to the members whose arrived seq is at least S, read by those whose
/// read seq is.
/// </summary>
public sealed record GetReceiptCursors(long UserId, string ConversationId);

public sealed record ReceiptCursor(long UserId, long ArrivedSeq, long ReadSeq);

/// <param name="LastSeq">The conversation's newest seq, for "read by all" at a glance.</param>
public sealed record ReceiptCursorList(long LastSeq, IReadOnlyList<ReceiptCursor> Items);
