namespace EasyIm.Contracts.Messaging;

public sealed record ConversationList(IReadOnlyList<ConversationSummary> Items);
