namespace EasyIm.Contracts.Friends;

/// <summary>Replies <see cref="UserList"/>.</summary>
public sealed record ListFriends(long UserId);
