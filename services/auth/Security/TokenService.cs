using System.Globalization;
using EasyIm.Auth.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace EasyIm.Auth.Security;

/// <summary>What a valid token says.</summary>
public sealed record TokenClaims(long UserId, string GrantType, int TokenVersion, DateTimeOffset ExpiresAt);

/// <summary>
/// Signed JWTs (HS256) as easyim issues them: an access token for 2 hours, a refresh token for
/// 30 days, each naming its <c>grant_type</c>. A token also carries the user's token version,
/// and stops working as soon as the user's version moves past it.
/// </summary>
public sealed class TokenService(SigningKeyStore keys, TimeProvider time)
{
    public const string AccessGrant = "access_token";
    public const string RefreshGrant = "refresh_token";
    public const string Issuer = "easyim";
    public static readonly TimeSpan AccessLifetime = TimeSpan.FromSeconds(7200);
    public static readonly TimeSpan RefreshLifetime = TimeSpan.FromDays(30);

    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public static TimeSpan Lifetime(string grantType) => grantType == RefreshGrant ? RefreshLifetime : AccessLifetime;

    public string Issue(User user, string grantType)
    {
        var now = time.GetUtcNow();
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + Lifetime(grantType)).UtcDateTime,
            SigningCredentials = new SigningCredentials(keys.Key, SecurityAlgorithms.HmacSha256),
            Claims = new Dictionary<string, object>
            {
                [JwtRegisteredClaimNames.Sub] = user.Id.ToString(CultureInfo.InvariantCulture),
                [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N"),
                ["id"] = user.Id.ToString(CultureInfo.InvariantCulture),
                ["account"] = user.Account,
                ["grant_type"] = grantType,
                ["ver"] = user.TokenVersion,
            },
        });
    }

    /// <summary>Checks signature, issuer and lifetime only; the token version is checked by <see cref="AuthenticateAsync"/>.</summary>
    public async Task<TokenClaims?> ReadAsync(string? token)
    {
        if (string.IsNullOrWhiteSpace(token) || token.Length > 4096)
            return null;
        var result = await _handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = Issuer,
            ValidateAudience = false,
            IssuerSigningKey = keys.Key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ClockSkew = TimeSpan.FromSeconds(30),
        });
        if (!result.IsValid
            || !result.Claims.TryGetValue("id", out var idClaim) || !long.TryParse(idClaim as string, CultureInfo.InvariantCulture, out var userId)
            || !result.Claims.TryGetValue("grant_type", out var grantClaim) || grantClaim is not (AccessGrant or RefreshGrant)
            || !result.Claims.TryGetValue("ver", out var verClaim))
            return null;
        var version = Convert.ToInt32(verClaim, CultureInfo.InvariantCulture);
        return new TokenClaims(userId, (string)grantClaim, version, new DateTimeOffset(result.SecurityToken.ValidTo, TimeSpan.Zero));
    }

    /// <summary>
    /// The user a token speaks for, if the token is valid, of the wanted grant (any, when null),
    /// and issued under the user's current token version.
    /// </summary>
    public async Task<(User User, TokenClaims Claims)?> AuthenticateAsync(AuthDbContext db, string? token, string? grantType, CancellationToken cancellationToken)
    {
        var claims = await ReadAsync(token);
        if (claims is null || (grantType is not null && claims.GrantType != grantType))
            return null;
        var user = await db.Users.SingleOrDefaultAsync(u => u.Id == claims.UserId, cancellationToken);
        if (user is null || user.TokenVersion != claims.TokenVersion)
            return null;
        return (user, claims);
    }

    public long SecondsLeft(TokenClaims claims) => Math.Max(0, (long)(claims.ExpiresAt - time.GetUtcNow()).TotalSeconds);
}
