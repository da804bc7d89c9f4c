namespace EasyIm.Contracts.Messaging;

/// <param name="Status">2 = ARRIVED, 3 = READ: everything up to <paramref name="Seq"/> of the conversation.</param>
public sealed record Receipt(long UserId, string ConversationId, ulong Seq, int Status);
