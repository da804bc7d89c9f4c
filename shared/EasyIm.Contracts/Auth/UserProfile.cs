namespace EasyIm.Contracts.Auth;

public sealed record UserProfile(long UserId, string Account, string Nickname, string Avatar);
