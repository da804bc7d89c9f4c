namespace EasyIm.Contracts.Friends;

public sealed record FriendRequestDeclined(long RequestId);
