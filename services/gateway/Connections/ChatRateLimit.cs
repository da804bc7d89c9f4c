using System.Diagnostics;

namespace EasyIm.Gateway.Connections;

/// <summary>
/// A connection's token bucket for chat messages and TYPING. Tokens accrue with elapsed time at
/// <c>perSecond</c>, up to <c>burst</c>, but are added only by one gateway-wide tick
/// (<see cref="Replenish"/>, once per <see cref="Period"/>) rather than by a timer per connection,
/// so idle connections cost nothing between ticks. A few numbers, nothing to dispose.
/// </summary>
public sealed class ChatRateLimit
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);
    private readonly int _perSecond;
    private readonly int _burst;
    private int _tokens;
    private long _replenishedAt = Stopwatch.GetTimestamp();
    private double _fraction;
    private volatile bool _spent;

    public ChatRateLimit(int perSecond, int burst)
    {
        _perSecond = perSecond;
        _burst = burst;
        _tokens = burst;
    }

    /// <summary>Takes a token; false when the bucket is empty (the client is over its rate).</summary>
    public bool TryAcquire()
    {
        _spent = true;
        var tokens = Volatile.Read(ref _tokens);
        while (tokens > 0)
        {
            var seen = Interlocked.CompareExchange(ref _tokens, tokens - 1, tokens);
            if (seen == tokens)
                return true;
            tokens = seen;
        }
        return false;
    }

    /// <summary>
    /// Adds the tokens accrued since the last call, when any were spent since the bucket was last
    /// full. Called by one thread at a time (the gateway's tick).
    /// </summary>
    public void Replenish()
    {
        var now = Stopwatch.GetTimestamp();
        if (!_spent)
        {
            _replenishedAt = now;
            return;
        }
        var accrued = (now - _replenishedAt) * (double)_perSecond / Stopwatch.Frequency + _fraction;
        var whole = (int)Math.Min(accrued, _burst);
        _fraction = accrued - Math.Floor(accrued);
        _replenishedAt = now;
        var tokens = Volatile.Read(ref _tokens);
        while (true)
        {
            var filled = Math.Min(_burst, tokens + whole);
            // Cleared before the exchange: an acquire in between makes the exchange fail and sets it again.
            if (filled >= _burst)
                _spent = false;
            var seen = Interlocked.CompareExchange(ref _tokens, filled, tokens);
            if (seen == tokens)
            {
                if (filled >= _burst)
                    _fraction = 0;
                return;
            }
            _spent = true;
            tokens = seen;
        }
    }
}
