namespace EasyIm.Contracts.Auth;

/// <summary>
/// Asked by a gateway on a connection's handshake (with the user id the client claims) and on
/// each HTTP API call (with <paramref name="UserId"/> null: whoever the token belongs to).
/// Replies <see cref="AccessTokenValidated"/> when the token is a live access token of that
/// user, otherwise <see cref="RequestRejected"/> (401).
/// </summary>
[CarriesSecret]
public sealed record ValidateAccessToken(long? UserId, string AccessToken);
