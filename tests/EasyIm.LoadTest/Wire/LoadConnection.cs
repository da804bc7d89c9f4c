using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using EasyIm.Client;

namespace EasyIm.LoadTest.Wire;

/// <summary>What a connection does with the frames it receives; called on its receive loop, one frame at a time.</summary>
public interface IFrameHandler
{
    void OnFrame(LoadConnection connection, ref Incoming frame);

    void OnClosed(LoadConnection connection)
    {
    }
}

/// <summary>
/// A lean long connection for the load client, which shares the machine's cores with the server:
/// one socket, one receive loop that decodes each frame in place and hands it to the
/// <see cref="IFrameHandler"/> on the spot (no queue, no task per frame), and a send buffer that
/// frames may be added to from any thread and that leaves in one socket write per
/// <see cref="Flush"/>. WebSocket framing is done here too (masked client frames, the server's
/// control frames), so every transport is the same byte stream to the rest of the tool.
/// </summary>
/// <remarks>
/// <c>EasyIm.Client</c> is the client for tests and people: it keeps every frame in an inbox
/// matched by predicates, parses JSON into <c>Msg</c> with Google.Protobuf, and writes a frame per
/// send under a semaphore. Per message that is several allocations and a lock handoff, which at
/// tens of thousands of messages a second would take the cores the server is being measured on.
/// </remarks>
public sealed class LoadConnection
{
    public const int MaxFrameBytes = 1 << 20;
    private const int InitialReceiveBytes = 4096;

    [ThreadStatic] private static byte[]? t_scratch;

    private readonly Socket _socket;
    private readonly bool _json;
    private readonly bool _webSocket;
    private readonly byte[] _mask = RandomNumberGenerator.GetBytes(4);
    private readonly Lock _sendLock = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ArrayBufferWriter<byte> _pending = new(256);
    private ArrayBufferWriter<byte>? _spare;
    private bool _flushing;
    private byte[] _buffer = new byte[InitialReceiveBytes];
    private int _start;
    private int _end;
    private ArrayBufferWriter<byte>? _fragments;
    private TaskCompletionSource? _ready;
    private bool _authenticated;
    private int _closing;
    private Task _receiving = Task.CompletedTask;
    private TaskCompletionSource? _resume;
    private long _bytesReceived;

    private LoadConnection(Socket socket, ClientTransport transport, IFrameHandler handler)
    {
        _socket = socket;
        Transport = transport;
        Handler = handler;
        _json = transport is ClientTransport.TcpJson or ClientTransport.WebSocketJson;
        _webSocket = transport is ClientTransport.WebSocketJson or ClientTransport.WebSocketProtobuf;
    }

    public ClientTransport Transport { get; }

    public IFrameHandler Handler { get; set; }

    /// <summary>The user the handshake was for.</summary>
    public long UserId { get; private set; }

    /// <summary>Frames that did not decode.</summary>
    public int BadFrames { get; private set; }

    public Task Closed => _closed.Task;

    public bool IsClosed => _closed.Task.IsCompleted;

    /// <summary>Whether the client ended it (<see cref="CloseAsync"/>, <see cref="Abort"/>).</summary>
    public bool ClosedByClient => Volatile.Read(ref _closing) == 1;

    public string? CloseReason { get; private set; }

    /// <summary>
    /// Whether the frame being handled is one of the handshake's (the heartbeat reply, a refusal, the
    /// connect-time sync up to its SYNC done included): valid during <see cref="IFrameHandler.OnFrame"/>.
    /// </summary>
    public bool DuringHandshake { get; private set; }

    /// <summary>Bytes read from the socket so far, after the WebSocket upgrade.</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    /// <param name="receiveBufferBytes">The socket's receive buffer (SO_RCVBUF) when above 0, set before connecting so that
    /// the kernel does not grow it: a client that stops reading then holds little, and the server's queue fills instead.</param>
    public static async Task<LoadConnection> OpenAsync(IPEndPoint endpoint, ClientTransport transport, IFrameHandler handler, CancellationToken cancellationToken,
        int receiveBufferBytes = 0)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferBytes > 0)
            socket.ReceiveBufferSize = receiveBufferBytes;
        var connection = new LoadConnection(socket, transport, handler);
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken);
            if (connection._webSocket)
                await connection.UpgradeAsync(endpoint, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        connection._receiving = connection.ReceiveLoopAsync();
        return connection;
    }

    /// <summary>
    /// Sends the heartbeat with the token, then waits for the KEEP_ALIVE reply and for the end of the
    /// connect-time sync (the SYNC event with done:true). A NOTIFY or a close fails it.
    /// </summary>
    public async Task HandshakeAsync(long userId, string accessToken, string? deviceId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        UserId = userId;
        _ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var scratch = Scratch(FrameEncoder.MaxLength(accessToken.Length));
        Append(scratch.AsSpan(0, FrameEncoder.Heartbeat(scratch, _json, userId, accessToken, deviceId)), DataOpcode);
        Flush();
        try
        {
            await _ready.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"user {userId}: no {(_authenticated ? "end of the connect-time sync (SYNC done)" : "KEEP_ALIVE reply")} within {timeout.TotalSeconds:F0} s");
        }
    }

    public void EnqueueChat(long to, int chatType, ReadOnlySpan<byte> content, ReadOnlySpan<byte> clientMsgId, uint seq)
    {
        var scratch = Scratch(256 + content.Length + clientMsgId.Length);
        Append(scratch.AsSpan(0, FrameEncoder.Chat(scratch, _json, to, chatType, content, clientMsgId, seq)), DataOpcode);
    }

    public void EnqueueArrived(ReadOnlySpan<byte> conversationId, ulong seq)
    {
        var scratch = Scratch(256 + conversationId.Length);
        Append(scratch.AsSpan(0, FrameEncoder.Arrived(scratch, _json, conversationId, seq)), DataOpcode);
    }

    /// <summary>An ARRIVED receipt, or a READ one.</summary>
    public void EnqueueReceipt(bool read, ReadOnlySpan<byte> conversationId, ulong seq)
    {
        var scratch = Scratch(256 + conversationId.Length);
        Append(scratch.AsSpan(0, FrameEncoder.Receipt(scratch, _json, read, conversationId, seq)), DataOpcode);
    }

    /// <summary>A SYNC for one conversation, after <paramref name="afterSeq"/>.</summary>
    public void EnqueueSync(ReadOnlySpan<byte> conversationId, ulong afterSeq)
    {
        var scratch = Scratch(256 + conversationId.Length);
        Append(scratch.AsSpan(0, FrameEncoder.Sync(scratch, _json, conversationId, afterSeq)), DataOpcode);
    }

    /// <summary>A SYNC naming several conversations, each after its seq.</summary>
    public void EnqueueSync(IReadOnlyList<KeyValuePair<string, ulong>> cursors)
    {
        var scratch = Scratch(256 + 2 * cursors.Sum(c => c.Key.Length + 24));
        Append(scratch.AsSpan(0, FrameEncoder.Sync(scratch, _json, cursors)), DataOpcode);
    }

    /// <summary>A chat message with any text as its content (<see cref="FrameEncoder.ChatText"/>).</summary>
    public void EnqueueChatText(long to, int chatType, string content, ReadOnlySpan<byte> clientMsgId, uint seq)
    {
        var scratch = Scratch(FrameEncoder.MaxChatTextLength(content.Length) + clientMsgId.Length);
        Append(scratch.AsSpan(0, FrameEncoder.ChatText(scratch, _json, to, chatType, content, clientMsgId, seq)), DataOpcode);
    }

    /// <summary>
    /// Stops reading the socket (after the read under way, if any): what the server sends then waits in
    /// the kernel's buffers and, once they are full, in the server's queue for this connection.
    /// </summary>
    public void PauseReceiving()
    {
        lock (_sendLock)
            _resume ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Reads again after <see cref="PauseReceiving"/>.</summary>
    public void ResumeReceiving()
    {
        TaskCompletionSource? resume;
        lock (_sendLock)
            (resume, _resume) = (_resume, null);
        resume?.TrySetResult();
    }

    public void EnqueueHeartbeat()
    {
        var scratch = Scratch(512);
        Append(scratch.AsSpan(0, FrameEncoder.Heartbeat(scratch, _json, UserId, null, null)), DataOpcode);
    }

    /// <summary>Starts writing what was enqueued, unless a write is under way (it takes the rest when it ends).</summary>
    public void Flush()
    {
        lock (_sendLock)
        {
            if (_flushing || _pending.WrittenCount == 0)
                return;
            _flushing = true;
        }
        _ = FlushLoopAsync();
    }

    /// <summary>Hangs up politely (a WebSocket close, a TCP half-close) and waits a little for the server's end.</summary>
    public async Task CloseAsync(TimeSpan wait)
    {
        if (IsClosed)
            return;
        Volatile.Write(ref _closing, 1);
        try
        {
            if (_webSocket)
            {
                Append([0x03, 0xE8], CloseOpcode);
                Flush();
            }
            else
            {
                _socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
        await Task.WhenAny(_closed.Task, Task.Delay(wait));
        Abort();
        await _receiving;
    }

    /// <summary>Cuts the connection at once.</summary>
    public void Abort()
    {
        Volatile.Write(ref _closing, 1);
        _socket.Dispose();
        // A paused receive loop must see the socket gone and end, or closing would wait for it forever.
        ResumeReceiving();
    }

    private const byte DataOpcode = 0;
    private const byte CloseOpcode = 0x8;
    private const byte PingOpcode = 0x9;
    private const byte PongOpcode = 0xA;

    private static byte[] Scratch(int size)
    {
        var scratch = t_scratch;
        if (scratch is null || scratch.Length < size)
            t_scratch = scratch = new byte[Math.Max(size, 4096)];
        return scratch;
    }

    /// <summary>Adds one frame in the connection's framing. <paramref name="opcode"/> is for WebSocket control frames; 0 = a data frame.</summary>
    private void Append(ReadOnlySpan<byte> payload, byte opcode)
    {
        if (IsClosed)
            return;
        lock (_sendLock)
        {
            var output = _pending;
            if (!_webSocket)
            {
                if (_json)
                {
                    var span = output.GetSpan(payload.Length + 1);
                    payload.CopyTo(span);
                    span[payload.Length] = (byte)'\n';
                    output.Advance(payload.Length + 1);
                }
                else
                {
                    var span = output.GetSpan(payload.Length + 5);
                    var w = new SpanWriter(span);
                    w.Varint((ulong)payload.Length);
                    w.Bytes(payload);
                    output.Advance(w.Length);
                }
                return;
            }

            var frame = output.GetSpan(payload.Length + 14);
            frame[0] = (byte)(0x80 | (opcode != DataOpcode ? opcode : _json ? 0x1 : 0x2));
            int header;
            if (payload.Length < 126)
            {
                frame[1] = (byte)(0x80 | payload.Length);
                header = 2;
            }
            else if (payload.Length <= ushort.MaxValue)
            {
                frame[1] = 0x80 | 126;
                BinaryPrimitives.WriteUInt16BigEndian(frame[2..], (ushort)payload.Length);
                header = 4;
            }
            else
            {
                frame[1] = 0x80 | 127;
                BinaryPrimitives.WriteUInt64BigEndian(frame[2..], (ulong)payload.Length);
                header = 10;
            }
            _mask.CopyTo(frame[header..]);
            header += 4;
            var body = frame.Slice(header, payload.Length);
            for (var i = 0; i < payload.Length; i++)
                body[i] = (byte)(payload[i] ^ _mask[i & 3]);
            output.Advance(header + payload.Length);
        }
    }

    private async Task FlushLoopAsync()
    {
        try
        {
            while (true)
            {
                ArrayBufferWriter<byte> batch;
                lock (_sendLock)
                {
                    if (_pending.WrittenCount == 0)
                    {
                        _flushing = false;
                        return;
                    }
                    batch = _pending;
                    _pending = _spare ?? new ArrayBufferWriter<byte>(256);
                    _spare = null;
                }
                var bytes = batch.WrittenMemory;
                while (!bytes.IsEmpty)
                    bytes = bytes[await _socket.SendAsync(bytes, SocketFlags.None)..];
                batch.ResetWrittenCount();
                lock (_sendLock)
                {
                    // A burst's large buffer is let go rather than kept per connection.
                    if (batch.Capacity <= 64 * 1024)
                        _spare = batch;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            lock (_sendLock)
            {
                _pending.ResetWrittenCount();
                _flushing = false;
            }
            CloseReason ??= ClosedByClient ? "closed by the client" : $"send failed: {ex.Message}";
            Abort();
        }
    }

    private async Task UpgradeAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = Encoding.ASCII.GetBytes(
            $"GET /ws HTTP/1.1\r\nHost: {endpoint}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n");
        await _socket.SendAsync(request, SocketFlags.None, cancellationToken);
        while (true)
        {
            if (_end == _buffer.Length)
                throw new IOException("the WebSocket upgrade response is too long");
            var received = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
            if (received == 0)
                throw new IOException("the server closed the connection during the WebSocket upgrade");
            _end += received;
            var headerEnd = _buffer.AsSpan(0, _end).IndexOf("\r\n\r\n"u8);
            if (headerEnd < 0)
                continue;
            var head = Encoding.ASCII.GetString(_buffer, 0, headerEnd);
            if (!head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
                throw new IOException($"the WebSocket upgrade was refused: {head.Split("\r\n")[0]}");
            var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
            if (!head.Contains(accept, StringComparison.Ordinal))
                throw new IOException("the WebSocket upgrade answered a wrong Sec-WebSocket-Accept");
            _start = headerEnd + 4;
            return;
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var reason = "closed by the server";
        try
        {
            // Frames may have come in with the upgrade response.
            var open = Parse();
            while (open)
            {
                if (Volatile.Read(ref _resume) is { } paused)
                    await paused.Task;
                MakeRoom();
                var received = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None);
                if (received == 0)
                    break;
                Interlocked.Add(ref _bytesReceived, received);
                _end += received;
                open = Parse();
                // What the handlers queued in answer leaves in one write.
                Flush();
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException or InvalidDataException)
        {
            reason = ClosedByClient ? "closed by the client" : $"{ex.GetType().Name}: {ex.Message}";
        }
        catch (Exception ex)
        {
            // A bug in a handler: report it as the reason, do not take the process down.
            reason = $"load client error: {ex}";
        }
        CloseReason ??= reason;
        _ready?.TrySetException(new IOException($"user {UserId}: the connection closed during the handshake: {CloseReason}"));
        Handler.OnClosed(this);
        _socket.Dispose();
        _closed.TrySetResult();
    }

    private void MakeRoom()
    {
        if (_start > 0 && _buffer.Length - _end < 1024)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            if (_buffer.Length > MaxFrameBytes)
                throw new InvalidDataException($"the server sent a frame over {MaxFrameBytes} bytes");
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
    }

    /// <summary>Hands every whole frame in the buffer to the handler. False: the server closed the WebSocket.</summary>
    private bool Parse()
    {
        while (_end > _start)
        {
            var available = _buffer.AsSpan(_start, _end - _start);
            int consumed;
            if (!_webSocket)
            {
                if (_json)
                {
                    var newline = available.IndexOf((byte)'\n');
                    if (newline < 0)
                    {
                        if (available.Length > MaxFrameBytes)
                            throw new InvalidDataException($"the server sent a line over {MaxFrameBytes} bytes");
                        return true;
                    }
                    var line = available[..newline].TrimEnd((byte)'\r');
                    consumed = newline + 1;
                    if (!line.IsEmpty)
                        Deliver(line);
                }
                else
                {
                    if (!TryReadVarint(available, out var length, out var prefix))
                        return true;
                    if (length > MaxFrameBytes)
                        throw new InvalidDataException($"the server sent a frame of {length} bytes");
                    if (available.Length < prefix + (int)length)
                        return true;
                    consumed = prefix + (int)length;
                    Deliver(available.Slice(prefix, (int)length));
                }
            }
            else
            {
                if (!TryParseWebSocketFrame(available, out consumed, out var open))
                    return true;
                if (!open)
                {
                    _start += consumed;
                    return false;
                }
            }
            _start += consumed;
        }
        _start = _end = 0;
        return true;
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> bytes, out ulong value, out int length)
    {
        value = 0;
        for (length = 0; length < Math.Min(bytes.Length, 5); length++)
        {
            value |= (ulong)(bytes[length] & 0x7F) << (7 * length);
            if ((bytes[length] & 0x80) == 0)
            {
                length++;
                return true;
            }
        }
        if (length == 5)
            throw new InvalidDataException("the server sent a length prefix over 5 bytes");
        return false;
    }

    private bool TryParseWebSocketFrame(ReadOnlySpan<byte> available, out int consumed, out bool open)
    {
        consumed = 0;
        open = true;
        if (available.Length < 2)
            return false;
        var fin = (available[0] & 0x80) != 0;
        var opcode = (byte)(available[0] & 0x0F);
        var masked = (available[1] & 0x80) != 0;
        long length = available[1] & 0x7F;
        var header = 2;
        if (length == 126)
        {
            if (available.Length < 4)
                return false;
            length = BinaryPrimitives.ReadUInt16BigEndian(available[2..]);
            header = 4;
        }
        else if (length == 127)
        {
            if (available.Length < 10)
                return false;
            length = (long)BinaryPrimitives.ReadUInt64BigEndian(available[2..]);
            header = 10;
        }
        if (length > MaxFrameBytes)
            throw new InvalidDataException($"the server sent a WebSocket frame of {length} bytes");
        var maskAt = header;
        if (masked)
            header += 4;
        if (available.Length < header + length)
            return false;
        consumed = header + (int)length;
        var payload = _buffer.AsSpan(_start + header, (int)length);
        if (masked)
        {
            for (var i = 0; i < payload.Length; i++)
                payload[i] ^= available[maskAt + (i & 3)];
        }

        switch (opcode)
        {
            case 0x1 or 0x2 when fin:
                Deliver(payload);
                break;
            case 0x1 or 0x2:
                _fragments ??= new ArrayBufferWriter<byte>();
                _fragments.ResetWrittenCount();
                _fragments.Write(payload);
                break;
            case 0x0:
                if (_fragments is null)
                    throw new InvalidDataException("the server sent a WebSocket continuation with no message to continue");
                _fragments.Write(payload);
                if (fin)
                {
                    Deliver(_fragments.WrittenSpan);
                    _fragments = null;
                }
                break;
            case CloseOpcode:
                CloseReason ??= ClosedByClient
                    ? "closed by the client"
                    : $"closed by the server (WebSocket close {(payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(payload) : 0)} {Encoding.UTF8.GetString(payload[Math.Min(2, payload.Length)..])})";
                if (!ClosedByClient)
                {
                    Append(payload[..Math.Min(2, payload.Length)], CloseOpcode);
                    Flush();
                }
                open = false;
                break;
            case PingOpcode:
                Append(payload, PongOpcode);
                break;
            case PongOpcode:
                break;
            default:
                throw new InvalidDataException($"the server sent WebSocket opcode {opcode}");
        }
        return true;
    }

    private void Deliver(ReadOnlySpan<byte> frame)
    {
        var msg = new Incoming();
        if (!FrameDecoder.TryDecode(frame, _json, ref msg))
        {
            BadFrames++;
            return;
        }
        DuringHandshake = _ready is { Task.IsCompleted: false };
        if (_ready is { Task.IsCompleted: false } ready)
        {
            if (msg.MsgType == Incoming.Event)
            {
                var content = ServerEvent.Read(msg.Content);
                if (content is { Key: "KEEP_ALIVE", Code: 200 })
                    _authenticated = true;
                else if (content is { Key: "SYNC", Done: true } && _authenticated)
                    ready.TrySetResult();
            }
            else if (msg.MsgType == Incoming.Notify)
            {
                var content = ServerEvent.Read(msg.Content);
                ready.TrySetException(new HandshakeRefusedException(UserId, content.Code, content.Message));
            }
        }
        Handler.OnFrame(this, ref msg);
    }
}

/// <summary>The server answered the handshake with a NOTIFY (a bad token, too many connections, over a budget...).</summary>
public sealed class HandshakeRefusedException(long userId, int code, string? reason)
    : IOException($"user {userId}: refused with NOTIFY {code} {reason}")
{
    public int Code { get; } = code;

    public string? Reason { get; } = reason;
}
