using System.Globalization;
using EasyIm.Auth.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace EasyIm.Auth.Security;

/// <summary>What a valid token says.</summary>
/// <param name="SessionId">The login session (<c>sid</c>) the token belongs to; 0 for a token issued before sessions existed.</param>
public sealed record TokenClaims(long UserId, string GrantType, int TokenVersion, DateTimeOffset ExpiresAt, long SessionId);

/// <summary>
/// Signed JWTs (HS256) as easyim issues them: an access token (2 hours by default) and a refresh
/// token (30 days), each naming its <c>grant_type</c> (<c>Auth:Tokens</c> sets the lifetimes). A
/// token carries the user's token version, and stops working as soon as the user's version moves
/// past it; and its login session (<c>sid</c>), and stops working when that session is revoked.
/// </summary>
public sealed class TokenService(SigningKeyStore keys, TimeProvider time, TokenOptions options)
{
    public const string AccessGrant = "access_token";
    public const string RefreshGrant = "refresh_token";
    public const string Issuer = "easyim";
    private const string SessionClaim = "sid";

    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public TimeSpan AccessLifetime => options.AccessLifetime;
    public TimeSpan RefreshLifetime => options.RefreshLifetime;

    public TimeSpan Lifetime(string grantType) => grantType == RefreshGrant ? RefreshLifetime : AccessLifetime;

    /// <summary>A token of <paramref name="grantType"/> for the user's current token version, in login session <paramref name="sessionId"/>.</summary>
    public string Issue(User user, string grantType, long sessionId)
    {
        var now = time.GetUtcNow();
        var claims = new Dictionary<string, object>
        {
            [JwtRegisteredClaimNames.Sub] = user.Id.ToString(CultureInfo.InvariantCulture),
            [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N"),
            ["id"] = user.Id.ToString(CultureInfo.InvariantCulture),
            ["account"] = user.Account,
            ["grant_type"] = grantType,
            ["ver"] = user.TokenVersion,
        };
        if (sessionId != 0)
            claims[SessionClaim] = sessionId.ToString(CultureInfo.InvariantCulture);
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + Lifetime(grantType)).UtcDateTime,
            SigningCredentials = new SigningCredentials(keys.Key, SecurityAlgorithms.HmacSha256),
            Claims = claims,
        });
    }

    /// <summary>Checks signature, issuer and lifetime only; the token version and session are checked by <see cref="AuthenticateAsync"/>.</summary>
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
            // The lifetime is checked on this clock (a test's fake one). Expiry is exact: the gateway closes a
            // connection at the token's expiry by its own clock, and an API call should not outlive it either.
            LifetimeValidator = (notBefore, expires, _, _) => IsWithin(notBefore, expires),
        });
        if (!result.IsValid
            || !result.Claims.TryGetValue("id", out var idClaim) || !long.TryParse(idClaim as string, CultureInfo.InvariantCulture, out var userId)
            || !result.Claims.TryGetValue("grant_type", out var grantClaim) || grantClaim is not (AccessGrant or RefreshGrant)
            || !result.Claims.TryGetValue("ver", out var verClaim))
            return null;
        var sessionId = 0L;
        if (result.Claims.TryGetValue(SessionClaim, out var sidClaim)
            && !long.TryParse(sidClaim as string, NumberStyles.None, CultureInfo.InvariantCulture, out sessionId))
            return null;
        var version = Convert.ToInt32(verClaim, CultureInfo.InvariantCulture);
        return new TokenClaims(userId, (string)grantClaim, version, new DateTimeOffset(result.SecurityToken.ValidTo, TimeSpan.Zero), sessionId);
    }

    /// <summary>A token issued by another auth replica whose clock runs a little ahead is not refused as not yet valid.</summary>
    public static readonly TimeSpan NotBeforeLeeway = TimeSpan.FromSeconds(30);

    private bool IsWithin(DateTime? notBefore, DateTime? expires)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return expires is { } until && now < until && (notBefore is not { } from || from <= now + NotBeforeLeeway);
    }

    /// <summary>
    /// The user a token speaks for, if the token is valid, of the wanted grant (any, when null),
    /// issued under the user's current token version, and of a login session that was not revoked.
    /// </summary>
    public async Task<(User User, TokenClaims Claims)?> AuthenticateAsync(AuthDbContext db, string? token, string? grantType, CancellationToken cancellationToken)
    {
        var claims = await ReadAsync(token);
        if (claims is null || (grantType is not null && claims.GrantType != grantType))
            return null;
        var user = await db.Users.SingleOrDefaultAsync(u => u.Id == claims.UserId, cancellationToken);
        if (user is null || user.TokenVersion != claims.TokenVersion)
            return null;
        if (claims.SessionId != 0 && !await db.LoginSessions.AnyAsync(
                s => s.Id == claims.SessionId && s.UserId == user.Id && s.RevokedAtMs == null, cancellationToken))
            return null;
        return (user, claims);
    }

    public long SecondsLeft(TokenClaims claims) => Math.Max(0, (long)(claims.ExpiresAt - time.GetUtcNow()).TotalSeconds);
}
