namespace EasyIm.Contracts.Friends;

/// <summary>Pending requests to the user. Replies <see cref="FriendRequestList"/>.</summary>
public sealed record ListFriendRequests(long UserId);
