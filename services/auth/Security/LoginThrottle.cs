using System.Threading.RateLimiting;

namespace EasyIm.Auth.Security;

/// <summary>
/// Auth's three login limits, all System.Threading.RateLimiting limiters:
/// <list type="bullet">
/// <item>per account, a token bucket of wrong passwords (<see cref="LoginThrottleOptions.LoginFailures"/> per window):
/// once it is empty, even the right password is refused until a token comes back, so guessing gets nowhere;
/// an unknown account has a bucket like any other, so it is refused the same way and cannot be told apart;</item>
/// <item>per account, one check at a time (a few waiting): a burst of concurrent guesses is counted one by
/// one instead of all passing the failure check before the first is counted;</item>
/// <item>for the whole process, a few password hashes at once (half the cores by default) and a short
/// queue: a login flood keeps the rest of the CPU for everyone else and is answered 503 beyond it. The hashes
/// run on <see cref="HashWorkers"/>, below the priority of everything else.</item>
/// </list>
/// Partitions of idle accounts are dropped by the partitioned limiter (once full and idle), so accounts
/// tried once cost memory only until their bucket has refilled.
/// </summary>
public sealed class LoginThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _failures;
    private readonly PartitionedRateLimiter<string> _turns;
    private readonly ConcurrencyLimiter _hashing;
    private readonly HashWorkers _workers;

    public LoginThrottle(LoginThrottleOptions options)
    {
        Options = options;
        _failures = PartitionedRateLimiter.Create<string, string>(account => RateLimitPartition.GetTokenBucketLimiter(account, _ =>
            new TokenBucketRateLimiterOptions
            {
                TokenLimit = options.LoginFailures,
                TokensPerPeriod = 1,
                ReplenishmentPeriod = options.FailureRefill,
                QueueLimit = 0,
                // The partitioned limiter's own tick replenishes every bucket; a timer per account would not scale.
                AutoReplenishment = false,
            }), StringComparer.Ordinal);
        _turns = PartitionedRateLimiter.Create<string, string>(account => RateLimitPartition.GetConcurrencyLimiter(account, _ =>
            new ConcurrencyLimiterOptions
            {
                PermitLimit = 1,
                QueueLimit = options.AccountQueue,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            }), StringComparer.Ordinal);
        _hashing = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = options.EffectiveHashConcurrency,
            QueueLimit = options.HashQueue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        _workers = new HashWorkers(options.EffectiveHashConcurrency);
    }

    public LoginThrottleOptions Options { get; }

    /// <summary>Waits until no other login of <paramref name="accountKey"/> is being checked; not acquired when too many wait.</summary>
    public ValueTask<RateLimitLease> WaitForTurnAsync(string accountKey, CancellationToken cancellationToken) =>
        _turns.AcquireAsync(accountKey, 1, cancellationToken);

    /// <summary>
    /// Whether <paramref name="accountKey"/> may still try a password (takes nothing): a whole failure left.
    /// Not <c>AttemptAcquire(0)</c>: the bucket refills continuously, and that succeeds on any fraction of a token.
    /// </summary>
    public bool MayTry(string accountKey) => _failures.GetStatistics(accountKey) is not { CurrentAvailablePermits: < 1 };

    /// <summary>Counts one wrong password (or unknown account) against <paramref name="accountKey"/>.</summary>
    public void CountFailure(string accountKey) => _failures.AttemptAcquire(accountKey, 1).Dispose();

    /// <summary>Waits for a hash slot; not acquired when the queue is full (the caller answers 503 at once).</summary>
    public ValueTask<RateLimitLease> WaitToHashAsync(CancellationToken cancellationToken) => _hashing.AcquireAsync(1, cancellationToken);

    /// <summary>
    /// Runs <paramref name="hash"/> in a hash slot on a low-priority hashing thread; <c>Ran</c> is false (and
    /// nothing ran) when every slot is taken and the queue is full.
    /// </summary>
    public async Task<(bool Ran, T Result)> TryHashAsync<T>(Func<T> hash, CancellationToken cancellationToken)
    {
        using var slot = await WaitToHashAsync(cancellationToken);
        return slot.IsAcquired ? (true, await _workers.RunAsync(hash)) : (false, default!);
    }

    /// <summary>When a locked account may try again: at most the time one failure takes to come back, in whole seconds.</summary>
    public int RetryAfterSeconds => (int)Math.Clamp(Math.Ceiling(Options.FailureRefill.TotalSeconds), 1, int.MaxValue);

    public void Dispose()
    {
        _failures.Dispose();
        _turns.Dispose();
        _hashing.Dispose();
        _workers.Dispose();
    }
}
