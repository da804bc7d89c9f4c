using System.Threading.RateLimiting;

namespace EasyIm.Gateway.Connections;

/// <summary>
/// The budgets a user's connections and HTTP requests on this gateway share (SYNC, friend events, chat,
/// handshakes, API requests), so that ten sockets, or the HTTP API beside them, do not buy ten times the cost. Each is a System.Threading.RateLimiting partitioned
/// limiter keyed by user id: a user's bucket lives on after their connections close (a reconnect does not
/// refill it), and the limiter drops it once it has been full and unused for a while.
/// </summary>
public sealed class UserBudgets : IDisposable
{
    private readonly Dictionary<FrameKind, (FrameBudget Budget, PartitionedRateLimiter<long> Limiter)> _limiters = [];
    private readonly PartitionedRateLimiter<long> _replays;
    private readonly int _replayBurst;

    public UserBudgets(GatewayOptions options)
    {
        var replay = new FrameBudget(FrameKind.Sync, options.Budgets.SyncMessagesPerUser.PerSecond, options.Budgets.SyncMessagesPerUser.Burst, true).BucketOptions();
        _replayBurst = replay.TokenLimit;
        // Waited for, oldest first: a sync past the budget is slowed, never refused.
        var waited = new TokenBucketRateLimiterOptions
        {
            TokenLimit = replay.TokenLimit,
            TokensPerPeriod = replay.TokensPerPeriod,
            ReplenishmentPeriod = replay.ReplenishmentPeriod,
            AutoReplenishment = false,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        };
        _replays = PartitionedRateLimiter.Create<long, long>(user => RateLimitPartition.GetTokenBucketLimiter(user, _ => waited));
        foreach (var kind in Enum.GetValues<FrameKind>())
        {
            if (FrameBudget.ForUser(options, kind) is not { } budget)
                continue;
            var bucket = budget.BucketOptions();
            _limiters[kind] = (budget, PartitionedRateLimiter.Create<long, long>(user => RateLimitPartition.GetTokenBucketLimiter(user, _ => bucket)));
        }
    }

    /// <summary>Takes the user's token for one frame of <paramref name="kind"/>: null when there was one (or the kind has no per-user budget), else the budget that refused it.</summary>
    public FrameBudget? TryTake(long userId, FrameKind kind)
    {
        if (!_limiters.TryGetValue(kind, out var entry))
            return null;
        using var lease = entry.Limiter.AttemptAcquire(userId);
        return lease.IsAcquired ? null : entry.Budget;
    }

    /// <summary>
    /// Takes <paramref name="count"/> tokens of <paramref name="kind"/> (a budget counted in bytes, not frames; at most a
    /// burst at a time): null when they were there, else the budget that refused them.
    /// </summary>
    public FrameBudget? TryTake(long userId, FrameKind kind, int count)
    {
        if (!_limiters.TryGetValue(kind, out var entry))
            return null;
        using var lease = entry.Limiter.AttemptAcquire(userId, Math.Min(count, entry.Budget.Burst));
        return lease.IsAcquired ? null : entry.Budget;
    }

    /// <summary>
    /// Waits until <paramref name="userId"/>'s replay budget (<see cref="GatewayOptions.BudgetOptions.SyncMessagesPerUser"/>)
    /// has <paramref name="messages"/> for a sync (at most a burst at a time); false if it was cancelled.
    /// </summary>
    public async ValueTask<bool> WaitForReplayAsync(long userId, int messages, CancellationToken cancellationToken)
    {
        while (messages > 0)
        {
            var take = Math.Min(messages, _replayBurst);
            try
            {
                using var lease = await _replays.AcquireAsync(userId, take, cancellationToken).ConfigureAwait(false);
                if (!lease.IsAcquired)
                    return false;
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return false;
            }
            messages -= take;
        }
        return true;
    }

    public void Dispose()
    {
        _replays.Dispose();
        foreach (var (_, limiter) in _limiters.Values)
            limiter.Dispose();
    }
}
