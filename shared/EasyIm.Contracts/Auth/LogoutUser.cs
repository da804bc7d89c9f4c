namespace EasyIm.Contracts.Auth;

/// <summary>Revokes every token of the access token's user. Replies <see cref="UserLoggedOut"/> or <see cref="RequestRejected"/>.</summary>
[CarriesSecret]
public sealed record LogoutUser(string AccessToken);
