namespace EasyIm.Contracts.Friends;

public sealed record FriendRequestSent(long RequestId, long FromUserId, long ToUserId);
