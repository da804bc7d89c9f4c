namespace EasyIm.Contracts.Friends;

/// <summary>The user's groups. Replies <see cref="GroupList"/>.</summary>
public sealed record ListGroups(long UserId);
