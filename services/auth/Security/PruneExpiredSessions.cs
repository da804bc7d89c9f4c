using EasyIm.Auth.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Auth.Security;

/// <summary>
/// Every refresh adds a row: once a refresh token has expired its row can never be asked for again (the
/// token is refused before it is looked up), and a session whose newest token expired has no token left
/// to revoke. Both are deleted every <see cref="Every"/>; several auth replicas doing it at once only
/// delete the same rows.
/// </summary>
public sealed class PruneExpiredSessions(IServiceScopeFactory scopes, TimeProvider time, ILogger<PruneExpiredSessions> logger) : BackgroundService
{
    public static readonly TimeSpan Every = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Every, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await PruneAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The database may be away for a while; the next round tries again.
                logger.LogWarning(ex, "Could not prune expired refresh tokens and sessions");
            }
        }
    }

    public async Task<(int Tokens, int Sessions)> PruneAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AuthDbContext>();
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var tokens = await db.RefreshTokens.Where(r => r.ExpiresAtMs < nowMs).ExecuteDeleteAsync(cancellationToken);
        var sessions = await db.LoginSessions.Where(s => s.ExpiresAtMs < nowMs).ExecuteDeleteAsync(cancellationToken);
        if (tokens + sessions > 0)
            logger.LogInformation("Pruned {Tokens} expired refresh tokens and {Sessions} expired sessions", tokens, sessions);
        return (tokens, sessions);
    }
}
