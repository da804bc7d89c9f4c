namespace EasyIm.Contracts.Auth;

public sealed record TokenRefreshed(long UserId, string Token, long ExpiresIn, string GrantType);
