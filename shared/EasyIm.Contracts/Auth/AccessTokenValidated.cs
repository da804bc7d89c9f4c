namespace EasyIm.Contracts.Auth;

/// <param name="TokenVersion">The user's token version the token was issued under; a later <see cref="UserTokensRevoked"/> with a higher version ends the session.</param>
public sealed record AccessTokenValidated(long UserId, string Account, int TokenVersion, DateTimeOffset ExpiresAt);
