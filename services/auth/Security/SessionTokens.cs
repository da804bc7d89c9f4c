using System.Security.Cryptography;
using System.Text;
using EasyIm.Auth.Data;
using EasyIm.Hosting.Ids;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.Auth.Security;

/// <summary>A fresh access and refresh token of one login session.</summary>
public sealed record IssuedTokens(long SessionId, string AccessToken, string RefreshToken);

/// <summary>What became of a refresh: the new pair, or why there is none.</summary>
public abstract record RefreshOutcome
{
    private RefreshOutcome() { }

    /// <summary>The presented token was the session's current one (or a retry within the grace): here is the next pair.</summary>
    public sealed record Rotated(IssuedTokens Tokens) : RefreshOutcome;

    /// <summary>The presented token had been replaced already: someone holds a copy, and the whole session is now revoked.</summary>
    public sealed record Reused(long SessionId) : RefreshOutcome;

    /// <summary>Auth has no record of the token (its session ended and was pruned, or it was never one of ours).</summary>
    public sealed record Unknown : RefreshOutcome;
}

/// <summary>
/// Login sessions and their refresh tokens (RFC 6819 section 5.2.2.3, OAuth 2.1's rotation for public
/// clients): a login starts a session; each refresh replaces the session's refresh token with a new one
/// and the old one stops working; a replaced token presented again means two parties hold the session,
/// and the whole session is revoked, its access tokens and live connections included. Tokens are
/// stored as their SHA-256 only.
/// </summary>
public sealed class SessionTokens(
    AuthDbContext db,
    TokenService tokens,
    [FromKeyedServices(AuthDbContext.Service)] SnowflakeIds ids,
    TimeProvider time,
    TokenOptions options)
{
    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>Starts a login session for the user (login, registration) and issues its first pair.</summary>
    public async Task<IssuedTokens> StartAsync(User user, CancellationToken cancellationToken)
    {
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var session = new LoginSession { Id = ids.Next(), UserId = user.Id, CreatedAtMs = nowMs };
        db.LoginSessions.Add(session);
        var issued = Issue(user, session.Id, nowMs, out var expiresAtMs);
        session.ExpiresAtMs = expiresAtMs;
        await db.SaveChangesAsync(cancellationToken);
        return issued;
    }

    /// <summary>
    /// Rotates the refresh token <paramref name="token"/> (already checked: signature, lifetime, the user's
    /// token version, a session not revoked). The user is tracked by <c>db</c>: with
    /// <paramref name="resetSecret"/> its token version moves in the same transaction as the rotation, so
    /// only the holder of the session's current token can reset the secret, never one of a stale copy.
    /// </summary>
    public async Task<RefreshOutcome> RotateAsync(User user, TokenClaims claims, string token, bool resetSecret, CancellationToken cancellationToken)
    {
        var hash = Hash(token);
        var row = await db.RefreshTokens.AsNoTracking().SingleOrDefaultAsync(r => r.TokenHash == hash, cancellationToken);
        if (row is null)
            return claims.SessionId == 0 ? await AdoptAsync(user, claims, hash, resetSecret, cancellationToken) : new RefreshOutcome.Unknown();
        // An adopted old token (no sid) is recorded under the session it started.
        if (row.UserId != user.Id || (claims.SessionId != 0 && row.SessionId != claims.SessionId))
            return new RefreshOutcome.Unknown();

        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (row.ReplacedAtMs is null)
        {
            // Claiming the token is one conditional update: of two refreshes racing with the same token,
            // exactly one sees it current (PostgreSQL re-checks the condition after the other commits).
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var claimed = await db.RefreshTokens
                .Where(r => r.TokenHash == hash && r.ReplacedAtMs == null)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.ReplacedAtMs, nowMs), cancellationToken);
            if (claimed == 1)
            {
                if (resetSecret)
                    user.TokenVersion++;
                var issued = await IssueInAsync(user, row.SessionId, nowMs, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                return new RefreshOutcome.Rotated(issued);
            }
            await transaction.RollbackAsync(cancellationToken);
            row = await db.RefreshTokens.AsNoTracking().SingleAsync(r => r.TokenHash == hash, cancellationToken);
        }

        // Replaced before: a retry of a refresh whose answer was lost, within the grace, gets another pair of
        // the session; anything else is a second holder of the session. A secret reset never gets the grace.
        if (!resetSecret && options.RefreshReuseGraceSeconds > 0 && nowMs - row.ReplacedAtMs!.Value <= options.RefreshReuseGraceSeconds * 1000L)
            return new RefreshOutcome.Rotated(await IssueInAsync(user, row.SessionId, nowMs, cancellationToken));
        await RevokeAsync(row.SessionId, nowMs, cancellationToken);
        return new RefreshOutcome.Reused(row.SessionId);
    }

    /// <summary>
    /// A refresh token issued before sessions existed (no <c>sid</c>, no row) starts a session on its first
    /// use, recorded as already replaced: it works once, and a second use is a reuse like any other.
    /// </summary>
    private async Task<RefreshOutcome> AdoptAsync(User user, TokenClaims claims, byte[] hash, bool resetSecret, CancellationToken cancellationToken)
    {
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var session = new LoginSession { Id = ids.Next(), UserId = user.Id, CreatedAtMs = nowMs };
        db.LoginSessions.Add(session);
        db.RefreshTokens.Add(new IssuedRefreshToken
        {
            TokenHash = hash,
            SessionId = session.Id,
            UserId = user.Id,
            IssuedAtMs = nowMs,
            ExpiresAtMs = claims.ExpiresAt.ToUnixTimeMilliseconds(),
            ReplacedAtMs = nowMs,
        });
        if (resetSecret)
            user.TokenVersion++;
        var issued = Issue(user, session.Id, nowMs, out var expiresAtMs);
        session.ExpiresAtMs = expiresAtMs;
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return new RefreshOutcome.Rotated(issued);
        }
        catch (DbUpdateException)
        {
            // The same old token was adopted at the same moment by another request: this one is the reuse.
            db.ChangeTracker.Clear();
            var adopted = await db.RefreshTokens.AsNoTracking().SingleOrDefaultAsync(r => r.TokenHash == hash, cancellationToken);
            if (adopted is null)
                throw;
            await RevokeAsync(adopted.SessionId, nowMs, cancellationToken);
            return new RefreshOutcome.Reused(adopted.SessionId);
        }
    }

    /// <summary>True when a refresh token is its session's current one (or an old token not yet adopted).</summary>
    public async Task<bool> IsCurrentAsync(TokenClaims claims, string token, CancellationToken cancellationToken)
    {
        var hash = Hash(token);
        var row = await db.RefreshTokens.AsNoTracking().SingleOrDefaultAsync(r => r.TokenHash == hash, cancellationToken);
        return row is null ? claims.SessionId == 0 : row.ReplacedAtMs is null && row.SessionId == claims.SessionId;
    }

    private Task RevokeAsync(long sessionId, long nowMs, CancellationToken cancellationToken) =>
        db.LoginSessions
            .Where(s => s.Id == sessionId && s.RevokedAtMs == null)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.RevokedAtMs, nowMs), cancellationToken);

    /// <summary>Issues the next pair of an existing session, stores its refresh token and saves (the user's version too).</summary>
    private async Task<IssuedTokens> IssueInAsync(User user, long sessionId, long nowMs, CancellationToken cancellationToken)
    {
        var issued = Issue(user, sessionId, nowMs, out var expiresAtMs);
        await db.SaveChangesAsync(cancellationToken);
        // The session lives as long as its newest token (the refresh token outlives the access token).
        await db.LoginSessions
            .Where(s => s.Id == sessionId && s.ExpiresAtMs < expiresAtMs)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.ExpiresAtMs, expiresAtMs), cancellationToken);
        return issued;
    }

    /// <summary>Issues a pair in the session and adds its refresh token's row (not saved).</summary>
    private IssuedTokens Issue(User user, long sessionId, long nowMs, out long expiresAtMs)
    {
        var refresh = tokens.Issue(user, TokenService.RefreshGrant, sessionId);
        expiresAtMs = nowMs + (long)options.RefreshLifetime.TotalMilliseconds;
        db.RefreshTokens.Add(new IssuedRefreshToken
        {
            TokenHash = Hash(refresh),
            SessionId = sessionId,
            UserId = user.Id,
            IssuedAtMs = nowMs,
            ExpiresAtMs = expiresAtMs,
        });
        return new IssuedTokens(sessionId, tokens.Issue(user, TokenService.AccessGrant, sessionId), refresh);
    }
}
