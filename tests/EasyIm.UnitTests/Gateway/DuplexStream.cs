using System.Buffers;
using System.IO.Pipelines;

namespace EasyIm.UnitTests.Gateway;

/// <summary>
/// One end of an in-memory byte stream in both directions, as a socket is to a WebSocket. It tells
/// when a read is waiting for data and with how large a buffer: what a transport would hold for it.
/// </summary>
internal sealed class DuplexStream(PipeReader input, PipeWriter output) : Stream
{
    private readonly Lock _lock = new();
    private readonly List<(int After, TaskCompletionSource<int> Seen)> _watchers = [];
    private int _waits;
    private int? _waitingWith;

    /// <summary>A connected pair: what one writes the other reads.</summary>
    public static (DuplexStream A, DuplexStream B) Pair()
    {
        var ab = new Pipe();
        var ba = new Pipe();
        return (new DuplexStream(ba.Reader, ab.Writer), new DuplexStream(ab.Reader, ba.Writer));
    }

    /// <summary>How many times a read has waited for data so far.</summary>
    public int Waits
    {
        get
        {
            lock (_lock)
                return _waits;
        }
    }

    /// <summary>
    /// The buffer size of a read waiting for data that has not come, once one is waiting that
    /// started after the first <paramref name="after"/> waits: what the reader holds while idle.
    /// </summary>
    public Task<int> ReadWaitingAsync(int after = 0)
    {
        lock (_lock)
        {
            if (_waitingWith is { } size && _waits > after)
                return Task.FromResult(size);
            var seen = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            _watchers.Add((after, seen));
            return seen.Task;
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        {
            var pending = input.ReadAsync(cancellationToken);
            if (!pending.IsCompleted)
            {
                lock (_lock)
                {
                    _waits++;
                    _waitingWith = buffer.Length;
                    foreach (var watcher in _watchers.Where(w => w.After < _waits).ToList())
                    {
                        watcher.Seen.TrySetResult(buffer.Length);
                        _watchers.Remove(watcher);
                    }
                }
            }
            ReadResult result;
            try
            {
                result = await pending;
            }
            finally
            {
                lock (_lock)
                    _waitingWith = null;
            }
            var available = result.Buffer;
            if (available.IsEmpty && result.IsCompleted)
            {
                input.AdvanceTo(available.End);
                return 0;
            }
            if (buffer.Length == 0)
            {
                // A zero-byte read returns once data is there, consuming none of it.
                input.AdvanceTo(available.Start);
                return 0;
            }
            var count = (int)Math.Min(buffer.Length, available.Length);
            available.Slice(0, count).CopyTo(buffer.Span);
            input.AdvanceTo(available.GetPosition(count));
            return count;
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        await output.WriteAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            input.Complete();
            output.Complete();
        }
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
