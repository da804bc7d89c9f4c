namespace EasyIm.Contracts.Messaging;

/// <summary>A TYPING event for a peer (chat_type 0) or a group's members (chat_type 1); never stored.</summary>
public sealed record RelayTyping(long FromUserId, string ConnectionId, long ToId, int ChatType);
