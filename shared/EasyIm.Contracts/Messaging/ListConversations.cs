namespace EasyIm.Contracts.Messaging;

/// <summary>The user's conversations with a message, most recent first. Replies <see cref="ConversationList"/>.</summary>
public sealed record ListConversations(long UserId);
