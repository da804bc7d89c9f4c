using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Delivery;

/// <summary>
/// Gathers items from many connections into batches, one bus message per batch: a batch leaves
/// when it holds <c>maxBatch</c> items or <c>maxDelay</c> after its first item, whichever comes
/// first. Batches leave one at a time, in the order their items were added, so what one
/// connection sends stays in order. The queue is bounded: when the bus falls behind, adding waits,
/// which slows the connections' reading rather than growing memory.
/// </summary>
public sealed class OutboundBatcher<T> : IAsyncDisposable
{
    private readonly Channel<T> _queue;
    private readonly Func<IReadOnlyList<T>, Task> _flush;
    private readonly int _maxBatch;
    private readonly TimeSpan _maxDelay;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Task _running;

    public OutboundBatcher(Func<IReadOnlyList<T>, Task> flush, int maxBatch, TimeSpan maxDelay, int capacity, ILogger logger, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, maxBatch);
        _flush = flush;
        _maxBatch = maxBatch;
        _maxDelay = maxDelay;
        _time = time ?? TimeProvider.System;
        _logger = logger;
        _queue = Channel.CreateBounded<T>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _running = Task.Run(RunAsync);
    }

    public ValueTask AddAsync(T item, CancellationToken cancellationToken = default) => _queue.Writer.WriteAsync(item, cancellationToken);

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            var batch = new List<T>(Math.Min(_maxBatch, 64));
            var started = _time.GetTimestamp();
            while (true)
            {
                while (batch.Count < _maxBatch && reader.TryRead(out var item))
                    batch.Add(item);
                if (batch.Count >= _maxBatch)
                    break;
                var left = _maxDelay - _time.GetElapsedTime(started);
                if (left <= TimeSpan.Zero || !await MoreWithin(reader, left).ConfigureAwait(false))
                    break;
            }
            try
            {
                await _flush(batch).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // The senders get no SENT ack for these and resend them (same client_msg_id).
                _logger.LogError(ex, "Could not send a batch of {Count} {Item}", batch.Count, typeof(T).Name);
            }
        }
    }

    private async Task<bool> MoreWithin(ChannelReader<T> reader, TimeSpan time)
    {
        using var timeout = new CancellationTokenSource(time, _time);
        try
        {
            return await reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Takes no more items and sends what is queued.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _running.ConfigureAwait(false);
    }
}
