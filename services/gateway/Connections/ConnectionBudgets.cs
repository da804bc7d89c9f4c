using System.Threading.RateLimiting;

namespace EasyIm.Gateway.Connections;

/// <summary>
/// A connection's budgets, one token bucket (System.Threading.RateLimiting) per frame kind, made on
/// the kind's first frame: most connections only ever send heartbeats and receipts. The buckets have
/// no timer each; the gateway's one tick refills them all (<see cref="Replenish"/>, every
/// <see cref="ReplenishEvery"/>), so an idle connection costs a few objects and no work. Also counts the
/// connection's refusals: <see cref="GatewayOptions.BudgetOptions.RefusalsBeforeClose"/> within
/// <see cref="GatewayOptions.BudgetOptions.RefusalWindow"/> seconds is a client that does not listen.
/// </summary>
public sealed class ConnectionBudgets(GatewayOptions options, TimeProvider time)
{
    public static readonly TimeSpan ReplenishEvery = TimeSpan.FromSeconds(1);

    private readonly TokenBucketRateLimiter?[] _buckets = new TokenBucketRateLimiter?[(int)FrameKind.FriendEvent + 1];
    private readonly Lock _refusalLock = new();
    private long _windowStart;
    private int _refusals;

    /// <summary>Takes a token for one frame of <paramref name="kind"/>: null when there was one, else the budget that refused it.</summary>
    public FrameBudget? TryTake(FrameKind kind)
    {
        var bucket = Volatile.Read(ref _buckets[(int)kind]) ?? Create(kind);
        using var lease = bucket.AttemptAcquire();
        return lease.IsAcquired ? null : FrameBudget.ForConnection(options, kind);
    }

    private TokenBucketRateLimiter Create(FrameKind kind)
    {
        var created = new TokenBucketRateLimiter(FrameBudget.ForConnection(options, kind).BucketOptions());
        return Interlocked.CompareExchange(ref _buckets[(int)kind], created, null) ?? created;
    }

    /// <summary>Adds the tokens accrued since the last call to every bucket in use (the gateway's tick).</summary>
    public void Replenish()
    {
        foreach (var bucket in _buckets)
            bucket?.TryReplenish();
    }

    /// <summary>
    /// Counts a refused frame; true when it makes <see cref="GatewayOptions.BudgetOptions.RefusalsBeforeClose"/>
    /// within the window that began at the first refusal of it (time from the connection's clock).
    /// </summary>
    public bool Refused()
    {
        var now = time.GetTimestamp();
        lock (_refusalLock)
        {
            if (_refusals == 0 || time.GetElapsedTime(_windowStart, now) > TimeSpan.FromSeconds(options.Budgets.RefusalWindow))
            {
                _windowStart = now;
                _refusals = 0;
            }
            return ++_refusals >= options.Budgets.RefusalsBeforeClose;
        }
    }
}
