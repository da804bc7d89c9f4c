namespace EasyIm.Contracts.Friends;

/// <summary>Replies <see cref="FriendRemoved"/> or <see cref="RequestRejected"/> (404 not friends).</summary>
public sealed record RemoveFriend(long UserId, long FriendId);
