namespace EasyIm.Contracts.Friends;

public sealed record FriendRequestInfo(long Id, long FromUserId, string Account, string Nickname, string? Message, DateTimeOffset CreatedAt);
