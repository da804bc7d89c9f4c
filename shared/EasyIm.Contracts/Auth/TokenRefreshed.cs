namespace EasyIm.Contracts.Auth;

/// <summary>
/// A refresh rotated the session's refresh token: the presented one stopped working, and the new
/// pair is here, whatever <paramref name="GrantType"/> was asked (the gateway answers easyim's
/// <c>token</c> field with the one of that grant).
/// </summary>
/// <param name="AccessExpiresIn">Seconds the new access token lives.</param>
/// <param name="RefreshExpiresIn">Seconds the new refresh token lives.</param>
[CarriesSecret]
public sealed record TokenRefreshed(long UserId, string GrantType, string AccessToken, long AccessExpiresIn, string RefreshToken, long RefreshExpiresIn);
