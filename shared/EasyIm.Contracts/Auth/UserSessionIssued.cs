namespace EasyIm.Contracts.Auth;

/// <summary>A fresh access and refresh token pair for a user, after register or login.</summary>
[CarriesSecret]
public sealed record UserSessionIssued(
    long UserId,
    string Account,
    string Nickname,
    string Avatar,
    string AccessToken,
    long ExpiresIn,
    string RefreshToken);
