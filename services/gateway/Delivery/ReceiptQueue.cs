using EasyIm.Contracts.Messaging;
using EasyIm.Gateway.Connections;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Delivery;

/// <summary>
/// The receipts of every connection of this gateway on their way to messaging, coalesced: a receipt is a
/// cursor ("everything up to N"), so of the receipts of one user, conversation and status that wait only
/// the highest is kept, and a flood of them costs a slot, not the queue. Adding never waits: a connection
/// may have at most <c>perConnection</c> slots waiting (receipts for different conversations), and past
/// that its new ones are refused; so one connection's flood never blocks nor pushes out another's. Slots
/// leave in batches of at most <c>maxBatch</c> (one bus message each), <c>maxDelay</c> after the first.
/// </summary>
public sealed class ReceiptQueue : IAsyncDisposable
{
    private sealed class Slot(Receipt receipt, LongConnection? owner)
    {
        public Receipt Receipt { get; set; } = receipt;
        public LongConnection? Owner { get; } = owner;
    }

    private readonly Func<IReadOnlyList<Receipt>, Task> _send;
    private readonly int _maxBatch;
    private readonly TimeSpan _maxDelay;
    private readonly int _perConnection;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    // In arrival order, so that receipts leave in the order they first came.
    private List<Slot> _slots = [];
    private Dictionary<(long UserId, string ConversationId, int Status), Slot> _byCursor = [];
    private readonly SemaphoreSlim _arrived = new(0, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _running;

    public ReceiptQueue(Func<IReadOnlyList<Receipt>, Task> send, int maxBatch, TimeSpan maxDelay, int perConnection, ILogger logger, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(perConnection, 1);
        _send = send;
        _maxBatch = maxBatch;
        _maxDelay = maxDelay;
        _perConnection = perConnection;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _running = Task.Run(RunAsync);
    }

    /// <summary>Receipts waiting to leave (distinct cursors).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
                return _slots.Count;
        }
    }

    /// <summary>
    /// Adds a receipt of <paramref name="from"/> (null: counted against no connection); false, and nothing
    /// added, when it is for a cursor with no receipt waiting and the connection already has its
    /// <c>perConnection</c> receipts waiting.
    /// </summary>
    public bool Add(Receipt receipt, LongConnection? from)
    {
        var key = (receipt.UserId, receipt.ConversationId, receipt.Status);
        bool first;
        lock (_lock)
        {
            if (_byCursor.TryGetValue(key, out var waiting))
            {
                if (receipt.Seq > waiting.Receipt.Seq)
                    waiting.Receipt = receipt;
                return true;
            }
            if (from is not null && !from.TryBeginReceipt(_perConnection))
                return false;
            var slot = new Slot(receipt, from);
            _slots.Add(slot);
            _byCursor[key] = slot;
            first = _slots.Count == 1;
        }
        if (first && _arrived.CurrentCount == 0)
        {
            try
            {
                _arrived.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another add signalled it meanwhile.
            }
        }
        return true;
    }

    private async Task RunAsync()
    {
        var stopping = _stopping.Token;
        while (true)
        {
            try
            {
                await _arrived.WaitAsync(stopping).ConfigureAwait(false);
                await Task.Delay(_maxDelay, _time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping: what waits still leaves below.
            }
            List<Slot> taken;
            lock (_lock)
            {
                taken = _slots;
                _slots = [];
                _byCursor = [];
            }
            for (var start = 0; start < taken.Count; start += _maxBatch)
            {
                var batch = taken.GetRange(start, Math.Min(_maxBatch, taken.Count - start)).Select(s => s.Receipt).ToList();
                try
                {
                    await _send(batch).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    // Lost receipts are cursors: the client's next receipt for the conversation covers them.
                    _logger.LogError(ex, "Could not send a batch of {Count} receipts", batch.Count);
                }
            }
            // A connection's receipts count until they left: a slow bus slows a flooder, not the others.
            foreach (var slot in taken)
                slot.Owner?.EndReceipt();
            if (stopping.IsCancellationRequested)
                return;
        }
    }

    /// <summary>Takes no more waiting and sends what is queued.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _running.ConfigureAwait(false);
        _stopping.Dispose();
        _arrived.Dispose();
    }
}
