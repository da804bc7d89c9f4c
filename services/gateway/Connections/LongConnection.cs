using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Connections;

/// <summary>
/// One long connection (raw TCP or WebSocket), whatever it carries. The reader hands each frame to
/// the <see cref="FrameHandler"/> in order. Frames to the client wait in a queue bounded in frames
/// and in bytes, written by a writer that runs only while there is something to write (an idle
/// connection has no writer waiting), one drained batch at a time; a client that stops reading fills
/// its own queue and is dropped without slowing anyone else. A silent connection, or one whose access token expired, is
/// closed by the gateway-wide <see cref="ConnectionSweeper"/>, not by a timer of its own. Closing is one path: queue a last
/// frame (a NOTIFY) if there is one, stop handling input, let the writer flush, give the client a
/// moment to read it, then cut.
/// </summary>
public abstract class LongConnection : IThreadPoolWorkItem
{
    /// <summary>How long a closing connection waits for its last frames to leave and for the client to hang up.</summary>
    public static readonly TimeSpan Linger = TimeSpan.FromSeconds(1);

    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _closedFlag;
    private int _requestsInFlight;
    private int _typingInFlight;
    // Never silent until RunAsync starts its clock: a sweep may see the connection as soon as it is registered.
    private long _silentUntil = long.MaxValue;
    private long _lastHeard;
    private int _framesInHand;
    private int _receiptsWaiting;

    // The send queue. _pending is allocated when a frame comes and handed whole to the writer.
    private readonly Lock _sendLock = new();
    private List<OutboundFrame>? _pending;
    private bool _writing;
    private bool _sendCompleted;
    private bool _writerDone;
    private TaskCompletionSource? _writerDoneSignal;
    // Frames and bytes queued or being written (bytes as this connection's format encodes them), and
    // the bytes of _pending alone, which the writer takes with it.
    private long _queuedBytes;
    private int _queuedFrames;
    private long _pendingBytes;
    // Who waits for the queue to fall below a mark (the sync writing its pages), and the mark.
    private TaskCompletionSource? _roomSignal;
    private long _roomBytes;
    private int _roomFrames;

    protected LongConnection(string id, string transport, GatewayOptions options, ILogger logger, TimeProvider? time = null)
    {
        Id = id;
        Transport = transport;
        Options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _lastHeard = _time.GetTimestamp();
        Budgets = new ConnectionBudgets(options, _time);
        SyncGate = new SyncGate(Send, options.HandshakeTimeoutSpan, options.SendQueueCapacity, maxHeldBytes: options.SendQueueBytes);
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

    /// <summary>Set once the registry took the connection under its user (the handshake was not refused).</summary>
    public bool Admitted { get; internal set; }

    public long UserId => Session?.UserId ?? 0;

    /// <summary>The client_msg_id of the last chat message this connection submitted (read and written by its frame loop only).</summary>
    public string? LastClientMsgId { get; set; }

    /// <summary>What each kind of frame may still cost on this connection, and its refusals.</summary>
    public ConnectionBudgets Budgets { get; }

    /// <summary>The connection's SYNCs: one runs at a time, and the latest that came meanwhile waits (read and written by <see cref="SyncRunner"/>).</summary>
    internal SyncRunner.State Syncs { get; } = new();

    public bool IsClosing => Volatile.Read(ref _closedFlag) != 0;

    /// <summary>Cancelled when the connection starts closing.</summary>
    public CancellationToken Closing => _closing.Token;

    public string? CloseReason { get; private set; }

    /// <summary>The NOTIFY code the connection was closed with, 0 when none (a WebSocket maps it to a close status).</summary>
    protected int CloseCode { get; private set; }

    /// <summary>Queues a frame for the client. A full queue means the client stopped reading: it is dropped.</summary>
    public bool Send(Msg msg) => Send(new OutboundFrame(msg));

    /// <summary>
    /// Queues a frame, which may be shared with other connections, for the client. A queue past its frames
    /// (<see cref="GatewayOptions.SendQueueCapacity"/>) or bytes (<see cref="GatewayOptions.SendQueueBytes"/>)
    /// means the client stopped reading: it is dropped. An empty queue takes any frame, however large.
    /// </summary>
    public bool Send(OutboundFrame frame)
    {
        // Encoded here rather than by the writer to know its size; the bytes are shared with every other
        // connection of the format, and the writer uses these.
        var bytes = frame.StreamBytes(Format).Length;
        bool full, startWriter = false;
        string? bound = null;
        lock (_sendLock)
        {
            if (_sendCompleted)
                return false;
            if (_queuedFrames >= Options.SendQueueCapacity)
                bound = $"{Options.SendQueueCapacity} frames";
            else if (_queuedFrames > 0 && _queuedBytes + bytes > Options.SendQueueBytes)
                bound = $"{Options.SendQueueBytes} bytes";
            full = bound is not null;
            if (!full)
            {
                (_pending ??= []).Add(frame);
                _queuedFrames++;
                _queuedBytes += bytes;
                _pendingBytes += bytes;
                startWriter = !_writing;
                _writing = true;
            }
        }
        if (startWriter && !InlineWrites.Defer(this))
            StartWriter();
        if (full && !IsClosing)
        {
            _logger.LogWarning("Connection {ConnectionId} of user {UserId} has {Bound} waiting to be written: the client does not read; dropping it",
                Id, UserId, bound);
            Abort($"send queue full ({bound}): the client does not read what it is sent");
        }
        return !full;
    }

    /// <summary>Frames and bytes queued for the client or being written.</summary>
    internal (int Frames, long Bytes) Queued
    {
        get
        {
            lock (_sendLock)
                return (_queuedFrames, _queuedBytes);
        }
    }

    /// <summary>
    /// Completes once at most <paramref name="frames"/> frames and <paramref name="bytes"/> bytes wait to
    /// be written: how a long answer (a sync's pages) goes no faster than the client reads. Cancelled
    /// with <paramref name="cancellationToken"/>; one waiter at a time.
    /// </summary>
    internal ValueTask WhenQueueBelowAsync(int frames, long bytes, CancellationToken cancellationToken)
    {
        TaskCompletionSource signal;
        lock (_sendLock)
        {
            if ((_queuedFrames <= frames && _queuedBytes <= bytes) || _sendCompleted)
                return ValueTask.CompletedTask;
            _roomFrames = frames;
            _roomBytes = bytes;
            signal = _roomSignal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        return new ValueTask(signal.Task.WaitAsync(cancellationToken));
    }

    /// <summary>A batch left (or never will): its frames no longer count, and a waiter for room may go on.</summary>
    private void Written(int frames, long bytes)
    {
        TaskCompletionSource? room = null;
        lock (_sendLock)
        {
            _queuedFrames -= frames;
            _queuedBytes -= bytes;
            if (_roomSignal is not null && ((_queuedFrames <= _roomFrames && _queuedBytes <= _roomBytes) || _sendCompleted))
            {
                room = _roomSignal;
                _roomSignal = null;
            }
        }
        room?.TrySetResult();
    }

    /// <summary>Starts closing: <paramref name="last"/>, if any, is the last frame written. Later calls do nothing.</summary>
    public void Close(string reason, Msg? last = null) => Close(reason, last, 0);

    /// <summary>Closes with a NOTIFY <c>{"code":code,"msg":message}</c> as the last frame.</summary>
    public void Close(int code, string message) => Close(message, ServerFrames.Notify(UserId, code, message), code);

    private void Close(string reason, Msg? last, int code)
    {
        if (Interlocked.Exchange(ref _closedFlag, 1) != 0)
            return;
        CloseReason = reason;
        CloseCode = code;
        bool startWriter;
        lock (_sendLock)
        {
            if (last is not null && !_sendCompleted)
            {
                var frame = new OutboundFrame(last);
                var bytes = frame.StreamBytes(Format).Length;
                (_pending ??= []).Add(frame);
                _queuedFrames++;
                _queuedBytes += bytes;
                _pendingBytes += bytes;
            }
            _sendCompleted = true;
            // The writer runs once more to write what is queued and end this side gracefully.
            startWriter = !_writing;
            _writing = true;
        }
        if (startWriter)
            StartWriter();
        _closing.Cancel();
        SyncGate.Dispose();
        _closed.TrySetResult();
    }

    /// <summary>Ends the connection now, without waiting for queued frames to leave.</summary>
    public void Abort(string reason)
    {
        Close(reason);
        AbortTransport();
    }

    /// <summary>Counts a request the connection is waiting on a service for; false past the per-connection limit.</summary>
    public bool TryBeginRequest(int limit) => TryCount(ref _requestsInFlight, limit);

    public void EndRequest() => Interlocked.Decrement(ref _requestsInFlight);

    /// <summary>Counts a TYPING relay still on its way to the bus; false past the per-connection limit.</summary>
    public bool TryBeginTyping(int limit) => TryCount(ref _typingInFlight, limit);

    public void EndTyping() => Interlocked.Decrement(ref _typingInFlight);

    /// <summary>Counts a receipt of this connection waiting to leave for messaging; false past the per-connection limit.</summary>
    internal bool TryBeginReceipt(int limit) => TryCount(ref _receiptsWaiting, limit);

    internal void EndReceipt() => Interlocked.Decrement(ref _receiptsWaiting);

    private static bool TryCount(ref int inFlight, int limit)
    {
        if (Interlocked.Increment(ref inFlight) <= limit)
            return true;
        Interlocked.Decrement(ref inFlight);
        return false;
    }

    /// <summary>True while a frame is being handled (the sweep leaves the connection alone then).</summary>
    internal bool HandlingFrame => Volatile.Read(ref _framesInHand) > 0;

    /// <summary>(Re)starts the time after which a silent connection is closed by the next sweep.</summary>
    public void ResetTimeout(TimeSpan after)
    {
        var ticks = (long)(Math.Max(after.Ticks, 0) * ((double)_time.TimestampFrequency / TimeSpan.TicksPerSecond));
        var now = _time.GetTimestamp();
        Volatile.Write(ref _lastHeard, now);
        Volatile.Write(ref _silentUntil, now + ticks);
    }

    /// <summary>How long the client has sent nothing (zero while one of its frames is being handled).</summary>
    public TimeSpan SilentFor => Volatile.Read(ref _framesInHand) > 0 ? TimeSpan.Zero : _time.GetElapsedTime(Volatile.Read(ref _lastHeard));

    /// <summary>
    /// Closes the connection (NOTIFY 408) when it has been silent past its time (<see cref="TimeProvider.GetTimestamp"/>
    /// of the connection's time provider): the handshake timeout before the handshake, DropAfter after it.
    /// </summary>
    public void CloseIfSilent(long now)
    {
        if (IsClosing || Volatile.Read(ref _framesInHand) > 0 || now < Volatile.Read(ref _silentUntil))
            return;
        var message = Session is null
            ? $"no heartbeat handshake within {Options.HandshakeTimeout} seconds"
            : $"no frame for {Options.DropAfter} seconds";
        Close(408, message);
    }

    public const string ExpiredReason = "the access token expired: renew it before it expires with a heartbeat carrying a fresh access_token, or reconnect with one";

    /// <summary>
    /// Closes the connection (NOTIFY 401) once the access token it stands on has expired (<paramref name="now"/>
    /// on the gateway's clock), unless a heartbeat renewed it with a fresh one before.
    /// </summary>
    public void CloseIfExpired(DateTimeOffset now)
    {
        if (IsClosing || Session is not { } session || now < session.ExpiresAt)
            return;
        Close(401, ExpiredReason);
    }

    /// <summary>Runs the connection until it is closed; returns when it is done with the transport.</summary>
    public async Task RunAsync(FrameHandler handler, TimeSpan handshakeLeft)
    {
        ResetTimeout(handshakeLeft);
        if (handshakeLeft <= TimeSpan.Zero)
            CloseIfSilent(_time.GetTimestamp());

        var reading = ReadLoopAsync(handler);
        var first = await Task.WhenAny(reading, _closed.Task).ConfigureAwait(false);
        Close(first == reading ? "closed by the client" : CloseReason ?? "closed");

        // Our side: what is queued (the last NOTIFY) leaves, unless the client does not read.
        if (!await FinishesWithin(WriterDone(), Linger))
            AbortTransport();
        // Their side: a moment to read it and hang up; then stop reading, and the transport closes.
        if (!await FinishesWithin(reading, Linger))
            StopReading();
        if (!await FinishesWithin(reading, Linger))
            AbortTransport();
        try
        {
            await reading.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A reset or aborted transport ends a loop with an exception; that is a way connections end.
            _logger.LogDebug(ex, "Connection {ConnectionId} read loop ended with {Error}", Id, ex.GetType().Name);
        }
    }

    private static async Task<bool> FinishesWithin(Task task, TimeSpan time)
    {
        await Task.WhenAny(task, Task.Delay(time)).ConfigureAwait(false);
        return task.IsCompleted;
    }

    /// <summary>Completes when the writer has written what was queued before the close and ended this side, or failed.</summary>
    private Task WriterDone()
    {
        lock (_sendLock)
            return _writerDone ? Task.CompletedTask : (_writerDoneSignal ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
    }

    // The writer starts on the thread pool, not on the thread that queued the frame: a push to many
    // connections is written by many threads, and a reader never waits for its own reply's write.
    private void StartWriter() => ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);

    void IThreadPoolWorkItem.Execute() => _ = WriteQueuedAsync();

    /// <summary>Runs the writer on this thread until it has to wait (see <see cref="InlineWrites"/>).</summary>
    internal void WriteInline() => _ = WriteQueuedAsync();

    private async Task WriteQueuedAsync()
    {
        try
        {
            while (true)
            {
                List<OutboundFrame>? batch;
                long batchBytes;
                lock (_sendLock)
                {
                    batch = _pending;
                    batchBytes = _pendingBytes;
                    _pending = null;
                    _pendingBytes = 0;
                    if (batch is null && !_sendCompleted)
                    {
                        // Nothing left: the writer stops until the next frame, holding nothing.
                        _writing = false;
                        return;
                    }
                }
                if (batch is null)
                {
                    await FinishWritingAsync().ConfigureAwait(false);
                    break;
                }
                var written = await WriteAsync(batch).ConfigureAwait(false);
                Written(batch.Count, batchBytes);
                if (!written)
                {
                    Close("could not write to the client");
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            _logger.LogDebug(ex, "Connection {ConnectionId} write ended with {Error}", Id, ex.GetType().Name);
            Close("could not write to the client");
        }
        TaskCompletionSource? signal, room;
        lock (_sendLock)
        {
            _writerDone = true;
            _pending = null;
            _queuedFrames = 0;
            _queuedBytes = 0;
            _pendingBytes = 0;
            signal = _writerDoneSignal;
            room = _roomSignal;
            _roomSignal = null;
        }
        signal?.TrySetResult();
        room?.TrySetResult();
    }

    /// <summary>Decodes and handles one frame; a frame that does not decode closes the connection with NOTIFY 400.</summary>
    protected async ValueTask OnFrameAsync(FrameHandler handler, Func<Msg> decode)
    {
        if (IsClosing)
            return;
        try
        {
            var msg = decode();
            // While the server handles a frame it reads no other: the client is not silent, the server is
            // slow (a bus or an auth answer taking long under load), so its time starts once it is handled.
            Interlocked.Increment(ref _framesInHand);
            try
            {
                await handler.HandleAsync(this, msg).ConfigureAwait(false);
            }
            finally
            {
                // Its time restarts before it stops counting as in hand: a sweep in between sees one or the other.
                if (Session is not null)
                    ResetTimeout(Options.DropAfterSpan);
                Interlocked.Decrement(ref _framesInHand);
            }
        }
        catch (FrameException ex)
        {
            _logger.LogInformation("Connection {ConnectionId} sent a bad frame: {Problem}", Id, ex.Message);
            Close(400, ex.Message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A frame the server failed on in a way nobody foresaw: that connection ends with a clear answer,
            // and the others never notice.
            _logger.LogWarning(ex, "Connection {ConnectionId} sent a frame the server failed to handle", Id);
            Close(500, "the server could not handle this frame");
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
    /// closing, keeps reading but discards (<see cref="KeepDiscarding"/>), so a client that stops sending
    /// soon after its last frame is never reset while it still sends.
    /// </summary>
    protected abstract Task ReadLoopAsync(FrameHandler handler);

    /// <summary>What a closing connection reads and throws away before it stops reading.</summary>
    internal const int DiscardAfterClose = 64 * 1024;
    private long _discarded;

    /// <summary>
    /// Counts input thrown away after the close; false once it passes <see cref="DiscardAfterClose"/>: a client
    /// that keeps sending after being closed (a flood refused over budget) is not read at wire speed until the
    /// linger ends, the read loop stops, and the transport closes under it.
    /// </summary>
    protected bool KeepDiscarding(long bytes) => (_discarded += bytes) <= DiscardAfterClose;

    /// <summary>
    /// Writes a batch of frames, in order, in the connection's <see cref="Format"/>, and flushes them.
    /// False when the client can no longer be written to. Never called concurrently.
    /// </summary>
    protected abstract ValueTask<bool> WriteAsync(IReadOnlyList<OutboundFrame> frames);

    /// <summary>After the last frame: ends this side of the transport gracefully (a WebSocket close frame).</summary>
    protected abstract ValueTask FinishWritingAsync();

    /// <summary>Makes a reader that waits for input return now (the transport then closes normally).</summary>
    protected abstract void StopReading();

    /// <summary>Cuts the transport: pending reads and writes fail.</summary>
    protected abstract void AbortTransport();
}
