namespace EasyIm.LoadTest.Abuse;

/// <summary>
/// An attacker's schedule: <c>perSecond</c> from <c>startTicks</c> on, the first one at the start. A
/// sender that stalled (a slow handshake, a busy machine) catches up at most <see cref="MaxBacklog"/>
/// (a quarter of a second's worth) and skips the rest, so that it never sends a burst its pace would not:
/// an attacker paced under a limit must stay under it.
/// </summary>
public sealed class Pacer(double perSecond, long startTicks, long ticksPerSecond)
{
    private long _taken;

    public long MaxBacklog { get; } = Math.Max(1, (long)Math.Ceiling(perSecond / 4));

    /// <summary>How many to send now, and how many were skipped because the sender fell too far behind.</summary>
    public (long Due, long Skipped) Take(long nowTicks)
    {
        if (nowTicks < startTicks)
            return (0, 0);
        // Multiplied first: whole ticks times a whole rate stay exact in a double, where a fraction of a second would not.
        var total = (long)((double)(nowTicks - startTicks) * perSecond / ticksPerSecond) + 1;
        var due = total - _taken;
        _taken = total;
        var skipped = Math.Max(0, due - MaxBacklog);
        return (due - skipped, skipped);
    }
}
