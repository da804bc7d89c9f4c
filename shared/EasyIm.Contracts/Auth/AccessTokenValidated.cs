namespace EasyIm.Contracts.Auth;

/// <param name="TokenVersion">The user's token version the token was issued under; a later <see cref="UserTokensRevoked"/> with a higher version ends the session.</param>
/// <param name="ExpiresAt">When the token expires: a long connection opened (or renewed) with it is closed then.</param>
/// <param name="SessionId">
/// The login session (the family of tokens descended from one login) the token belongs to; a
/// <see cref="UserSessionRevoked"/> naming it ends the connection. 0 for a token issued before sessions existed.
/// </param>
public sealed record AccessTokenValidated(long UserId, string Account, int TokenVersion, DateTimeOffset ExpiresAt, long SessionId = 0);
