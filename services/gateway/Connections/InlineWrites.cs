namespace EasyIm.Gateway.Connections;

/// <summary>
/// A stretch of code on one thread (a bus message of pushes) during which connections that get a frame
/// with no writer running do not start one on the thread pool: they are written on this thread when the
/// stretch ends, each until its write would wait. Under moderate load a push otherwise costs a thread
/// wake-up per connection it reaches, which on a small machine costs more than the write itself; socket
/// writes to a client that keeps up complete at once, and a connection whose write would wait goes on
/// asynchronously as before. A stretch that reaches many connections (a large group's message) keeps
/// only its first <see cref="InlineShare"/> and hands the rest to the thread pool in slices of
/// <see cref="Slice"/>: written by one thread, a 1,000-member fan-out queued every later push behind it.
/// </summary>
public sealed class InlineWrites : IDisposable
{
    [ThreadStatic]
    private static InlineWrites? t_current;

    private readonly List<LongConnection> _deferred = [];
    private readonly InlineWrites? _outer;

    private InlineWrites()
    {
        _outer = t_current;
        t_current = this;
    }

    public static InlineWrites Begin() => new();

    /// <summary>True when a stretch is open on this thread: it starts the connection's writer when it ends.</summary>
    internal static bool Defer(LongConnection connection)
    {
        if (t_current is not { } current)
            return false;
        current._deferred.Add(connection);
        return true;
    }

    internal const int InlineShare = 64;
    internal const int Slice = 64;

    public void Dispose()
    {
        t_current = _outer;
        var count = _deferred.Count;
        for (var start = InlineShare; start < count; start += Slice)
            ThreadPool.UnsafeQueueUserWorkItem(new SliceWriter(_deferred.GetRange(start, Math.Min(Slice, count - start))), preferLocal: false);
        for (var i = 0; i < Math.Min(InlineShare, count); i++)
            _deferred[i].WriteInline();
        _deferred.Clear();
    }

    private sealed class SliceWriter(List<LongConnection> connections) : IThreadPoolWorkItem
    {
        public void Execute()
        {
            foreach (var connection in connections)
                connection.WriteInline();
        }
    }
}
