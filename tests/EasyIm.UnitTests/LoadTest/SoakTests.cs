using System.Diagnostics;
using EasyIm.LoadTest.Scenarios;
using EasyIm.LoadTest.Targets;

namespace EasyIm.UnitTests.LoadTest;

/// <summary>The soak's per-interval figures: latencies of one interval only, and rows as the table prints them.</summary>
public sealed class SoakTests
{
    private static long Ms(double ms) => (long)(ms * Stopwatch.Frequency / 1000);

    [Fact]
    public void Each_interval_holds_only_the_latencies_recorded_since_the_last_was_taken()
    {
        var context = new FlowContext(SendMode.Rate, "run");
        context.RecordInterval(Ms(999));

        context.TakeInterval();
        for (var i = 0; i < 99; i++)
            context.RecordInterval(Ms(10));
        context.RecordInterval(Ms(500));
        var first = context.TakeInterval();
        context.RecordInterval(Ms(20));
        var second = context.TakeInterval();

        Assert.Equal(100, first.TotalCount);
        Assert.InRange(first.GetValueAtPercentile(50) / 1000.0, 9.9, 10.1);
        Assert.InRange(first.GetValueAtPercentile(100) / 1000.0, 499, 501);
        Assert.Equal(1, second.TotalCount);
        Assert.InRange(second.GetValueAtPercentile(99) / 1000.0, 19.9, 20.1);
        Assert.Equal(0, context.TakeInterval().TotalCount);
    }

    [Fact]
    public void The_table_has_the_shapes_own_columns()
    {
        var rows = new[] { new SoakRow(TimeSpan.FromSeconds(60), 5001, 28.7, 359.2, 392L << 20, 65, 132L << 20, 150L << 20, null, null, null) };
        var standalone = new StringWriter();
        SoakSampler.Table(Shape.Standalone, rows).Write(standalone);
        var distributed = new StringWriter();
        SoakSampler.Table(Shape.Distributed, [rows[0] with { WalMaxBytes = null, DatabaseBytes = null, MessagesTableBytes = 65L << 20, MessagesIndexBytes = 75L << 20, DeadTuples = 1234 }])
            .Write(distributed);

        Assert.Contains("| 1:00 |", standalone.ToString());
        Assert.Contains("WAL max MB", standalone.ToString());
        Assert.Contains("132.0", standalone.ToString());
        Assert.Contains("dead tuples", distributed.ToString());
        Assert.Contains("1,234", distributed.ToString());
        Assert.DoesNotContain("WAL", distributed.ToString());
    }
}
