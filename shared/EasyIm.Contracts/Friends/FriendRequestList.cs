namespace EasyIm.Contracts.Friends;

public sealed record FriendRequestList(IReadOnlyList<FriendRequestInfo> Items);
