using System.Threading.Channels;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Connections;

/// <summary>
/// One long connection (raw TCP or WebSocket), whatever it carries. Reading and writing run as two
/// loops: the reader hands each frame to the <see cref="FrameHandler"/> in order; the writer drains
/// a bounded queue, so a client that stops reading fills its own queue and is dropped without
/// slowing anyone else. Closing is one path: queue a last frame (a NOTIFY) if there is one, stop
/// handling input, let the writer flush, give the client a moment to read it, then cut.
/// </summary>
public abstract class LongConnection
{
    /// <summary>How long a closing connection waits for its last frames to leave and for the client to hang up.</summary>
    public static readonly TimeSpan Linger = TimeSpan.FromSeconds(1);

    private readonly Channel<Msg> _outbound;
    private readonly CancellationTokenSource _closing = new();
    private readonly CancellationTokenSource _timeout = new();
    private readonly ILogger _logger;
    private int _closed;
    private int _requestsInFlight;

    protected LongConnection(string id, string transport, GatewayOptions options, ILogger logger)
    {
        Id = id;
        Transport = transport;
        Options = options;
        _logger = logger;
        _outbound = Channel.CreateBounded<Msg>(new BoundedChannelOptions(options.SendQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        RateLimit = new ChatRateLimit(options.RateLimit.PerSecond, options.RateLimit.Burst);
        SyncGate = new SyncGate(Send, options.HandshakeTimeoutSpan, options.SendQueueCapacity);
    }

    /// <summary>What pushes go through: holds chat messages back while the connect-time sync runs.</summary>
    public SyncGate SyncGate { get; }

    /// <summary>Unique across gateways: <c>{gateway id}:{local id}</c>.</summary>
    public string Id { get; }

    /// <summary><c>tcp</c> or <c>websocket</c>, for logs.</summary>
    public string Transport { get; }

    /// <summary>The format the client first used; every frame to it is written in it.</summary>
    public WireFormat Format { get; protected set; }

    protected GatewayOptions Options { get; }

    /// <summary>Set once the heartbeat handshake succeeded.</summary>
    public Session? Session { get; internal set; }

    public long UserId => Session?.UserId ?? 0;

    public ChatRateLimit RateLimit { get; }

    public bool IsClosing => Volatile.Read(ref _closed) != 0;

    /// <summary>Cancelled when the connection starts closing.</summary>
    public CancellationToken Closing => _closing.Token;

    public string? CloseReason { get; private set; }

    /// <summary>The NOTIFY code the connection was closed with, 0 when none (a WebSocket maps it to a close status).</summary>
    protected int CloseCode { get; private set; }

    /// <summary>Queues a frame for the client. A full queue means the client stopped reading: it is dropped.</summary>
    public bool Send(Msg msg)
    {
        if (_outbound.Writer.TryWrite(msg))
            return true;
        if (!IsClosing)
        {
            _logger.LogWarning("Connection {ConnectionId} of user {UserId} has {Capacity} frames waiting to be written: the client does not read; dropping it",
                Id, UserId, Options.SendQueueCapacity);
            Abort("send queue full: the client does not read what it is sent");
        }
        return false;
    }

    /// <summary>Starts closing: <paramref name="last"/>, if any, is the last frame written. Later calls do nothing.</summary>
    public void Close(string reason, Msg? last = null) => Close(reason, last, 0);

    /// <summary>Closes with a NOTIFY <c>{"code":code,"msg":message}</c> as the last frame.</summary>
    public void Close(int code, string message) => Close(message, ServerFrames.Notify(UserId, code, message), code);

    private void Close(string reason, Msg? last, int code)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
            return;
        CloseReason = reason;
        CloseCode = code;
        if (last is not null)
            _outbound.Writer.TryWrite(last);
        _outbound.Writer.TryComplete();
        _closing.Cancel();
        SyncGate.Dispose();
    }

    /// <summary>Ends the connection now, without waiting for queued frames to leave.</summary>
    public void Abort(string reason)
    {
        Close(reason);
        AbortTransport();
    }

    /// <summary>Counts a request the connection is waiting on a service for; false past the per-connection limit.</summary>
    public bool TryBeginRequest(int limit)
    {
        if (Interlocked.Increment(ref _requestsInFlight) <= limit)
            return true;
        Interlocked.Decrement(ref _requestsInFlight);
        return false;
    }

    public void EndRequest() => Interlocked.Decrement(ref _requestsInFlight);

    /// <summary>(Re)starts the clock after which a silent connection is closed.</summary>
    public void ResetTimeout(TimeSpan after)
    {
        if (!IsClosing)
            _timeout.CancelAfter(after > TimeSpan.Zero ? after : TimeSpan.Zero);
    }

    /// <summary>Runs the connection until it is closed; returns when both loops are done.</summary>
    public async Task RunAsync(FrameHandler handler, TimeSpan handshakeLeft, CancellationToken serverStopping)
    {
        ResetTimeout(handshakeLeft);
        await using var onTimeout = _timeout.Token.Register(() =>
        {
            var message = Session is null
                ? $"no heartbeat handshake within {Options.HandshakeTimeout} seconds"
                : $"no frame for {Options.DropAfter} seconds";
            Close(408, message);
        });
        await using var onStopping = serverStopping.Register(() => Close(503, "the server is shutting down; reconnect"));

        var reading = ReadLoopAsync(handler);
        var writing = WriteLoopAsync(_outbound.Reader);
        var first = await Task.WhenAny(reading, writing, Task.Delay(Timeout.Infinite, Closing)).ConfigureAwait(false);
        Close(first == reading ? "closed by the client" : first == writing ? "could not write to the client" : CloseReason ?? "closed");

        // Our side: what is queued (the last NOTIFY) leaves, unless the client does not read.
        if (!await FinishesWithin(writing, Linger))
            AbortTransport();
        // Their side: a moment to read it and hang up; then stop reading, and the transport closes.
        if (!await FinishesWithin(reading, Linger))
            StopReading();
        if (!await FinishesWithin(reading, Linger))
            AbortTransport();
        await Observe(reading, "read");
        await Observe(writing, "write");
        _timeout.Dispose();
    }

    private static async Task<bool> FinishesWithin(Task task, TimeSpan time)
    {
        await Task.WhenAny(task, Task.Delay(time)).ConfigureAwait(false);
        return task.IsCompleted;
    }

    private async Task Observe(Task loop, string what)
    {
        try
        {
            await loop.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A reset or aborted transport ends a loop with an exception; that is a way connections end.
            _logger.LogDebug(ex, "Connection {ConnectionId} {Loop} loop ended with {Error}", Id, what, ex.GetType().Name);
        }
    }

    /// <summary>Decodes and handles one frame; a frame that does not decode closes the connection with NOTIFY 400.</summary>
    protected async ValueTask OnFrameAsync(FrameHandler handler, Func<Msg> decode)
    {
        if (IsClosing)
            return;
        try
        {
            var msg = decode();
            if (Session is not null)
                ResetTimeout(Options.DropAfterSpan);
            await handler.HandleAsync(this, msg).ConfigureAwait(false);
        }
        catch (FrameException ex)
        {
            _logger.LogInformation("Connection {ConnectionId} sent a bad frame: {Problem}", Id, ex.Message);
            Close(400, ex.Message);
        }
    }

    /// <summary>Refuses the rest of a stream whose framing broke (oversize, bad length prefix).</summary>
    protected void OnBrokenFraming(FrameException ex)
    {
        _logger.LogInformation("Connection {ConnectionId} broke the framing: {Problem}", Id, ex.Message);
        Close(400, ex.Message);
    }

    /// <summary>
    /// Reads frames and hands them to <see cref="OnFrameAsync"/> until the client hangs up; once
    /// closing, keeps reading but discards, so the client is never reset while it still sends.
    /// </summary>
    protected abstract Task ReadLoopAsync(FrameHandler handler);

    /// <summary>Writes queued frames until the queue is completed and empty, then ends this side gracefully.</summary>
    protected abstract Task WriteLoopAsync(ChannelReader<Msg> queue);

    /// <summary>Makes a reader that waits for input return now (the transport then closes normally).</summary>
    protected abstract void StopReading();

    /// <summary>Cuts the transport: pending reads and writes fail.</summary>
    protected abstract void AbortTransport();
}
