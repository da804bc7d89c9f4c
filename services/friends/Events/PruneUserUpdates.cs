using EasyIm.Friends.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Friends.Events;

/// <summary>
/// Deletes update-stream events older than <see cref="FriendsOptions.UpdateRetentionDays"/>, every <see cref="Every"/>,
/// a bounded batch at a time. The heads stay: a position is never given twice.
/// </summary>
public sealed class PruneUserUpdates(IServiceScopeFactory scopes, FriendsOptions options, TimeProvider time, ILogger<PruneUserUpdates> logger) : BackgroundService
{
    public static readonly TimeSpan Every = TimeSpan.FromHours(1);
    private const int Batch = 5000;

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
                logger.LogWarning(ex, "Could not prune old update-stream events");
            }
        }
    }

    public async Task<int> PruneAsync(CancellationToken cancellationToken)
    {
        var before = time.GetUtcNow().AddDays(-options.UpdateRetentionDays).ToUnixTimeMilliseconds();
        var total = 0;
        while (true)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<FriendsDbContext>();
            var old = await db.UserUpdates.AsNoTracking().Where(u => u.CreatedAtMs < before)
                .OrderBy(u => u.CreatedAtMs).Take(Batch).Select(u => new { u.UserId, u.Position }).ToListAsync(cancellationToken);
            if (old.Count == 0)
                return total;
            foreach (var user in old.GroupBy(u => u.UserId))
            {
                var through = user.Max(u => u.Position);
                total += await db.UserUpdates.Where(u => u.UserId == user.Key && u.Position <= through && u.CreatedAtMs < before).ExecuteDeleteAsync(cancellationToken);
            }
            if (old.Count < Batch)
                return total;
        }
    }
}
