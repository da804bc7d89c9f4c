namespace EasyIm.Hosting.Database;

/// <summary>
/// Writes a list of units (rows, or rows that must be stored together) whose write failed, so that one bad
/// unit fails alone and never holds up the others:
/// <list type="bullet">
/// <item>a <see cref="StoreErrorKind.Duplicate"/> is written again at once with the dedupe on (the writer then looks the originals up first);</item>
/// <item>a <see cref="StoreErrorKind.Transient"/> error is retried with backoff, the same units, until <see cref="Policy.RetryFor"/> has passed since the first failure;
/// after that, units that still fail this way are given up (the database is unavailable: their senders may try again later);</item>
/// <item>a <see cref="StoreErrorKind.Permanent"/> error splits the units in halves, written one after the other, down to the single
/// units that fail: those are refused, everything else is committed. k bad units among n cost about 2·k·log2(n) transactions.</item>
/// </list>
/// Order is kept: a slice is written (or refused) before any unit after it, so units committed in separate
/// transactions are still stored in list order. The unit knows nothing of what it writes; the
/// <see cref="StoreErrors"/> classification decides.
/// </summary>
public static class RowIsolation
{
    /// <summary>How long transient errors are retried, and the waits between the attempts (the last one repeats).</summary>
    public sealed record Policy(TimeSpan RetryFor, IReadOnlyList<TimeSpan> Backoff)
    {
        public static Policy Default(TimeSpan retryFor) => new(retryFor,
            [TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(250),
             TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)]);
    }

    /// <summary>
    /// A slice of the units and what became of it: written together in one transaction (<see cref="Result"/>), or
    /// refused: one unit the database refuses (<see cref="StoreErrorKind.Permanent"/>), or a slice given up after
    /// <see cref="Policy.RetryFor"/> of <see cref="StoreErrorKind.Transient"/> errors.
    /// </summary>
    public sealed record Slice<TUnit, TResult>(IReadOnlyList<TUnit> Units, TResult? Result, StoreErrorKind? RefusedAs, Exception? Error)
    {
        public bool Stored => RefusedAs is null;
    }

    public sealed class Outcome<TUnit, TResult>
    {
        /// <summary>Every unit once, in list order.</summary>
        public List<Slice<TUnit, TResult>> Slices { get; } = [];
        /// <summary>Every failed write, with its kind: for counting and logging.</summary>
        public List<(StoreErrorKind Kind, int Units, Exception Error)> Failures { get; } = [];
        public IEnumerable<Slice<TUnit, TResult>> Refused => Slices.Where(s => !s.Stored);
    }

    /// <param name="units">What to write, in order.</param>
    /// <param name="write">Writes a slice in one transaction (all of it or none), with or without the dedupe; throws what the database said.</param>
    /// <param name="firstFailure">The error of a write of all <paramref name="units"/> that was already tried, if any: its kind decides the first step.</param>
    public static async Task<Outcome<TUnit, TResult>> WriteAsync<TUnit, TResult>(
        IReadOnlyList<TUnit> units,
        Func<IReadOnlyList<TUnit>, bool, CancellationToken, Task<TResult>> write,
        Policy policy,
        TimeProvider time,
        Exception? firstFailure,
        CancellationToken cancellationToken)
    {
        var outcome = new Outcome<TUnit, TResult>();
        var started = time.GetTimestamp();
        var attempt = 0;
        await WriteSliceAsync(units, dedupe: false, firstFailure);
        return outcome;

        async Task WriteSliceAsync(IReadOnlyList<TUnit> slice, bool dedupe, Exception? failed)
        {
            while (true)
            {
                if (failed is null)
                {
                    try
                    {
                        outcome.Slices.Add(new(slice, await write(slice, dedupe, cancellationToken), null, null));
                        return;
                    }
                    catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        failed = ex;
                    }
                }
                var kind = StoreErrors.Classify(failed);
                outcome.Failures.Add((kind, slice.Count, failed));
                var error = failed;
                failed = null;
                if (kind == StoreErrorKind.Duplicate && !dedupe)
                {
                    dedupe = true;
                    continue;
                }
                if (kind == StoreErrorKind.Transient)
                {
                    if (time.GetElapsedTime(started) >= policy.RetryFor)
                    {
                        outcome.Slices.Add(new(slice, default, kind, error));
                        return;
                    }
                    await Task.Delay(policy.Backoff[Math.Min(attempt++, policy.Backoff.Count - 1)], time, cancellationToken);
                    continue;
                }
                // Permanent, or a duplicate the dedupe did not resolve: the same rows would fail again.
                if (slice.Count == 1)
                {
                    outcome.Slices.Add(new(slice, default, StoreErrorKind.Permanent, error));
                    return;
                }
                var half = slice.Count / 2;
                await WriteSliceAsync(Part(slice, 0, half), dedupe, null);
                await WriteSliceAsync(Part(slice, half, slice.Count - half), dedupe, null);
                return;
            }
        }
    }

    private static IReadOnlyList<TUnit> Part<TUnit>(IReadOnlyList<TUnit> list, int start, int count)
    {
        var slice = new TUnit[count];
        for (var i = 0; i < count; i++)
            slice[i] = list[start + i];
        return slice;
    }
}
