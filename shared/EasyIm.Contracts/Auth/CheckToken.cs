namespace EasyIm.Contracts.Auth;

/// <summary>Checks an access or refresh token. Replies <see cref="TokenChecked"/> or <see cref="RequestRejected"/>.</summary>
[CarriesSecret]
public sealed record CheckToken(string Token);
