namespace EasyIm.Contracts.Friends;

public sealed record FriendRemoved(long UserId, long FriendId);
