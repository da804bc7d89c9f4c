using EasyIm.Contracts.Wire;

namespace EasyIm.Client;

/// <summary>
/// Frames received and not yet taken. A taker names what it wants: the oldest matching frame is
/// taken, the others stay for later takers, in order. Bounded: a full inbox makes the receive
/// loop wait (the socket is then not read, as with a slow client).
/// </summary>
internal sealed class Inbox(int capacity)
{
    private sealed record Waiter(Func<Msg, bool> Match, TaskCompletionSource<Msg> Result);

    private readonly Lock _lock = new();
    private readonly LinkedList<Msg> _pending = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private readonly SemaphoreSlim _space = new(capacity, capacity);
    private Exception? _closed;

    /// <summary>Adds a received frame: to the first waiter it matches, else to the pending ones (waiting for room).</summary>
    public async ValueTask PutAsync(Msg msg, CancellationToken cancellationToken)
    {
        await _space.WaitAsync(cancellationToken).ConfigureAwait(false);
        TaskCompletionSource<Msg>? taker = null;
        lock (_lock)
        {
            for (var node = _waiters.First; node is not null; node = node.Next)
            {
                if (node.Value.Match(msg))
                {
                    taker = node.Value.Result;
                    _waiters.Remove(node);
                    break;
                }
            }
            if (taker is null)
                _pending.AddLast(msg);
        }
        if (taker is not null)
        {
            _space.Release();
            taker.TrySetResult(msg);
        }
    }

    public async Task<Msg> TakeAsync(Func<Msg, bool> match, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (_lock)
        {
            for (var node = _pending.First; node is not null; node = node.Next)
            {
                if (match(node.Value))
                {
                    _pending.Remove(node);
                    _space.Release();
                    return node.Value;
                }
            }
            if (_closed is not null)
                throw new EasyImConnectionClosedException("the connection is closed and no received frame matches", _closed);
            waiter = new Waiter(match, new TaskCompletionSource<Msg>(TaskCreationOptions.RunContinuationsAsynchronously));
            _waiters.AddLast(waiter);
        }
        try
        {
            return await waiter.Result.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            lock (_lock)
                _waiters.Remove(waiter);
            if (waiter.Result.Task.IsCompletedSuccessfully)
                return waiter.Result.Task.Result;
            if (ex is TimeoutException)
                throw new TimeoutException($"no matching frame within {timeout}; received and not taken: {Describe()}");
            throw;
        }
    }

    /// <summary>No frame will come any more: waiters fail; pending frames can still be taken.</summary>
    public void Close(Exception reason)
    {
        List<Waiter> waiters;
        lock (_lock)
        {
            _closed ??= reason;
            waiters = [.. _waiters];
            _waiters.Clear();
        }
        foreach (var waiter in waiters)
            waiter.Result.TrySetException(new EasyImConnectionClosedException("the connection closed before a matching frame arrived", reason));
    }

    public IReadOnlyList<Msg> Snapshot()
    {
        lock (_lock)
            return [.. _pending];
    }

    private string Describe()
    {
        var pending = Snapshot();
        return pending.Count == 0 ? "none" : string.Join("; ", pending.Take(10).Select(m => m.ToString())) + (pending.Count > 10 ? $"; ... ({pending.Count} in all)" : "");
    }
}
