namespace EasyIm.Contracts.Auth;

/// <param name="GrantType"><c>access_token</c> or <c>refresh_token</c>.</param>
/// <param name="ExpiresIn">Seconds left before the token expires.</param>
public sealed record TokenChecked(long UserId, string GrantType, long ExpiresIn);
