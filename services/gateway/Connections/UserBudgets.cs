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

    public UserBudgets(GatewayOptions options)
    {
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

    public void Dispose()
    {
        foreach (var (_, limiter) in _limiters.Values)
            limiter.Dispose();
    }
}
