namespace EasyIm.Contracts.Friends;

public sealed record FriendshipRemoved(long UserId, long FriendId, DateTimeOffset At);
