using EasyIm.Hosting.Database;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace EasyIm.UnitTests.Hosting;

/// <summary>
/// The isolation unit against a stand-in store whose transactions are all or nothing, as a database's are:
/// what it commits, it commits in order; what fails, fails whole.
/// </summary>
public sealed class RowIsolationTests
{
    private sealed class Store(Func<IReadOnlyList<int>, bool, Exception?> fail)
    {
        public List<int> Rows { get; } = [];
        public int Transactions { get; private set; }

        public Task<int> WriteAsync(IReadOnlyList<int> slice, bool dedupe, CancellationToken _)
        {
            Transactions++;
            if (fail(slice, dedupe) is { } error)
                return Task.FromException<int>(error);
            Rows.AddRange(slice);
            return Task.FromResult(slice.Count);
        }
    }

    private static readonly RowIsolation.Policy Policy = RowIsolation.Policy.Default(TimeSpan.FromSeconds(30));
    private static Exception Refused() => new SqliteException("refused by a trigger", 19, 1811);
    private static Exception Busy() => new SqliteException("database is locked", 5, 5);

    [Fact]
    public async Task Bad_rows_fail_alone_and_every_other_row_is_stored_in_order_in_few_transactions()
    {
        var bad = new HashSet<int> { 13, 77, 78 };
        var store = new Store((slice, _) => slice.Any(bad.Contains) ? Refused() : null);
        var units = Enumerable.Range(0, 256).ToList();

        var outcome = await RowIsolation.WriteAsync<int, int>(units, store.WriteAsync, Policy, TimeProvider.System, Refused(), CancellationToken.None);

        Assert.Equal(units.Where(u => !bad.Contains(u)), store.Rows);
        Assert.Equal(bad.Order(), outcome.Refused.SelectMany(r => r.Units));
        Assert.All(outcome.Refused, r => Assert.Equal((StoreErrorKind.Permanent, 1), (r.RefusedAs!.Value, r.Units.Count)));
        // Every unit once, in list order.
        Assert.Equal(units, outcome.Slices.SelectMany(s => s.Units));
        // Three bad rows among 256: about 2 * 3 * log2(256) transactions, nowhere near one per row.
        Assert.InRange(store.Transactions, 1, 2 * bad.Count * 8 + 1);
    }

    [Fact]
    public async Task A_duplicate_is_written_again_at_once_with_the_dedupe()
    {
        var store = new Store((_, dedupe) => dedupe ? null : new SqliteException("UNIQUE constraint failed", 19, 2067));

        var outcome = await RowIsolation.WriteAsync<int, int>([1, 2, 3], store.WriteAsync, Policy, TimeProvider.System, null, CancellationToken.None);

        Assert.Equal([1, 2, 3], store.Rows);
        Assert.Equal(2, store.Transactions);
        Assert.Empty(outcome.Refused);
        Assert.Equal(StoreErrorKind.Duplicate, Assert.Single(outcome.Failures).Kind);
    }

    [Fact]
    public async Task A_transient_error_is_retried_whole_until_it_passes()
    {
        var failures = 3;
        var store = new Store((_, _) => failures-- > 0 ? Busy() : null);

        var outcome = await RowIsolation.WriteAsync<int, int>([1, 2, 3], store.WriteAsync, Policy, TimeProvider.System, null, CancellationToken.None);

        Assert.Equal([1, 2, 3], store.Rows);
        Assert.Equal(4, store.Transactions);
        Assert.Single(outcome.Slices);
        Assert.All(outcome.Failures, f => Assert.Equal(StoreErrorKind.Transient, f.Kind));
    }

    [Fact]
    public async Task A_database_that_keeps_failing_is_given_up_after_the_retry_time_and_nothing_is_stored()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var store = new Store((_, _) => Busy());
        var policy = new RowIsolation.Policy(TimeSpan.FromSeconds(5), [TimeSpan.FromSeconds(1)]);

        var writing = RowIsolation.WriteAsync<int, int>([1, 2, 3], store.WriteAsync, policy, time, null, CancellationToken.None);
        for (var i = 0; i < 10 && !writing.IsCompleted; i++)
        {
            // Each retry waits a second on the fake clock: move it once the writer waits.
            while (!writing.IsCompleted && store.Transactions <= i)
                await Task.Yield();
            time.Advance(TimeSpan.FromSeconds(1));
        }
        var outcome = await writing.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Empty(store.Rows);
        var refused = Assert.Single(outcome.Refused);
        Assert.Equal(StoreErrorKind.Transient, refused.RefusedAs);
        Assert.Equal([1, 2, 3], refused.Units);
        Assert.InRange(store.Transactions, 5, 7);
    }

    [Fact]
    public async Task A_permanent_error_in_one_unit_does_not_wait_for_the_retry_time()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var store = new Store((slice, _) => slice.Contains(2) ? Refused() : null);

        // The fake clock never moves: a wait anywhere would hang, and the test's time limit would fail it.
        var outcome = await RowIsolation.WriteAsync<int, int>([1, 2, 3], store.WriteAsync, Policy, time, null, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([1, 3], store.Rows);
        Assert.Equal([2], Assert.Single(outcome.Refused).Units);
    }
}
