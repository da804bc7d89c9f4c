namespace EasyIm.Contracts.Friends;

/// <summary>By account or nickname. Replies <see cref="UserList"/>.</summary>
public sealed record SearchUsers(long UserId, string Keyword, int Limit);
