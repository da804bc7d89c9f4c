namespace EasyIm.Contracts.Auth;

/// <summary>Published once a user is stored; the friends service projects it for user search.</summary>
public sealed record UserRegistered(long UserId, string Account, string Nickname, string Avatar, DateTimeOffset RegisteredAt);
