using System.Threading.Channels;
using EasyIm.Gateway.Delivery;
using Microsoft.Extensions.Logging.Abstractions;

namespace EasyIm.UnitTests.Gateway;

public class OutboundBatcherTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>A batcher whose flushes land in a channel the test reads, with a flush that may be held.</summary>
    private sealed class Harness : IAsyncDisposable
    {
        public Channel<IReadOnlyList<int>> Batches { get; } = Channel.CreateUnbounded<IReadOnlyList<int>>();
        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public OutboundBatcher<int> Batcher { get; }

        public Harness(int maxBatch, TimeSpan maxDelay, bool held = false, int capacity = 1024)
        {
            if (!held)
                Gate.SetResult();
            Batcher = new OutboundBatcher<int>(async batch =>
            {
                await Gate.Task;
                await Batches.Writer.WriteAsync(batch);
            }, maxBatch, maxDelay, capacity, NullLogger.Instance);
        }

        public async Task<IReadOnlyList<int>> NextBatchAsync() => await Batches.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        public ValueTask DisposeAsync() => Batcher.DisposeAsync();
    }

    [Fact]
    public async Task A_full_batch_leaves_without_waiting_for_the_delay()
    {
        await using var harness = new Harness(maxBatch: 4, maxDelay: TimeSpan.FromHours(1));

        for (var i = 0; i < 4; i++)
            await harness.Batcher.AddAsync(i);

        Assert.Equal([0, 1, 2, 3], await harness.NextBatchAsync());
    }

    [Fact]
    public async Task A_partial_batch_leaves_after_the_delay_as_one_bus_message()
    {
        await using var harness = new Harness(maxBatch: 256, maxDelay: TimeSpan.FromMilliseconds(50));

        for (var i = 0; i < 10; i++)
            await harness.Batcher.AddAsync(i);

        Assert.Equal(Enumerable.Range(0, 10), await harness.NextBatchAsync());
        Assert.False(harness.Batches.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Items_keep_their_order_across_batches_and_no_batch_is_over_the_maximum()
    {
        await using var harness = new Harness(maxBatch: 256, maxDelay: TimeSpan.FromMilliseconds(2), held: true);

        // While the first flush is held, the rest piles up, so later batches fill to the maximum.
        for (var i = 0; i < 600; i++)
            await harness.Batcher.AddAsync(i);
        harness.Gate.SetResult();

        var received = new List<int>();
        while (received.Count < 600)
        {
            var batch = await harness.NextBatchAsync();
            Assert.InRange(batch.Count, 1, 256);
            received.AddRange(batch);
        }
        Assert.Equal(Enumerable.Range(0, 600), received);
    }

    [Fact]
    public async Task Adding_waits_while_the_queue_is_full_rather_than_growing()
    {
        var harness = new Harness(maxBatch: 2, maxDelay: TimeSpan.FromHours(1), held: true, capacity: 4);

        // The first batch (exactly two: the delay never runs out) is taken and held in flush; four more fill the queue.
        for (var i = 0; i < 6; i++)
            await harness.Batcher.AddAsync(i).AsTask().WaitAsync(Wait);
        var blocked = harness.Batcher.AddAsync(6).AsTask();
        var finished = await Task.WhenAny(blocked, Task.Delay(200));

        Assert.NotSame(blocked, finished);
        harness.Gate.SetResult();
        await blocked.WaitAsync(Wait);
        await harness.DisposeAsync();
        var all = new List<int>();
        while (harness.Batches.Reader.TryRead(out var batch))
            all.AddRange(batch);
        Assert.Equal(Enumerable.Range(0, 7), all);
    }

    [Fact]
    public async Task A_failed_flush_is_logged_and_later_batches_still_leave()
    {
        var batches = Channel.CreateUnbounded<IReadOnlyList<int>>();
        var calls = 0;
        await using var batcher = new OutboundBatcher<int>(async batch =>
        {
            if (Interlocked.Increment(ref calls) == 1)
                throw new InvalidOperationException("bus down");
            await batches.Writer.WriteAsync(batch);
        }, 1, TimeSpan.FromMilliseconds(1), 16, NullLogger.Instance);

        await batcher.AddAsync(1);
        await batcher.AddAsync(2);

        Assert.Equal([2], await batches.Reader.ReadAsync().AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task Disposing_sends_what_is_queued()
    {
        var harness = new Harness(maxBatch: 1000, maxDelay: TimeSpan.FromHours(1));
        for (var i = 0; i < 3; i++)
            await harness.Batcher.AddAsync(i);

        await harness.DisposeAsync().AsTask().WaitAsync(Wait);

        Assert.Equal([0, 1, 2], await harness.NextBatchAsync());
    }
}
