namespace EasyIm.Contracts.Friends;

/// <summary>Published when a request is accepted; messaging projects it.</summary>
public sealed record FriendshipCreated(long UserId, long FriendId, DateTimeOffset At);
