using System.Threading.RateLimiting;

namespace EasyIm.Gateway.Connections;

/// <summary>
/// A connection's token bucket for chat messages and TYPING. Tokens are added by one gateway-wide
/// tick (<see cref="Replenish"/>, once per <see cref="Period"/>) rather than by a timer per
/// connection, so idle connections cost nothing between ticks. Without its own timer the bucket
/// holds nothing that needs disposing.
/// </summary>
public sealed class ChatRateLimit
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    private readonly TokenBucketRateLimiter _bucket;
    private readonly int _burst;
    private volatile bool _spent;

    public ChatRateLimit(int perSecond, int burst)
    {
        _burst = burst;
        _bucket = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = perSecond,
            ReplenishmentPeriod = Period,
            AutoReplenishment = false,
            QueueLimit = 0,
        });
    }

    /// <summary>Takes a token; false when the bucket is empty (the client is over its rate).</summary>
    public bool TryAcquire()
    {
        _spent = true;
        using var lease = _bucket.AttemptAcquire();
        return lease.IsAcquired;
    }

    /// <summary>Adds one period's tokens, when any were spent since the bucket was last full.</summary>
    public void Replenish()
    {
        if (!_spent)
            return;
        _bucket.TryReplenish();
        if (_bucket.GetStatistics() is { } stats && stats.CurrentAvailablePermits >= _burst)
            _spent = false;
    }
}
