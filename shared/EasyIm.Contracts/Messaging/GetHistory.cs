namespace EasyIm.Contracts.Messaging;

/// <summary>
/// A page of a conversation's messages, newest first: those before <paramref name="BeforeSeq"/>
/// (or the newest when null). Only a participant may read: replies <see cref="HistoryPage"/>, or
/// <see cref="RequestRejected"/> 400 (bad conversation id or limit) or 403 (not a participant).
/// </summary>
public sealed record GetHistory(long UserId, string ConversationId, ulong? BeforeSeq, int Limit);
