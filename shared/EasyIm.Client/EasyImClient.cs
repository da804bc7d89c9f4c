using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;
using EasyIm.Contracts.Wire;
using Google.Protobuf;

namespace EasyIm.Client;

/// <summary>
/// One long connection to an EasyIm gateway. Frames the server sends are kept in order until
/// taken with <see cref="WaitForAsync"/> (the first one matching, others stay) or
/// <see cref="ReadAllAsync"/>; <see cref="Closed"/> completes when the connection ends.
/// </summary>
public sealed class EasyImClient : IAsyncDisposable
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default
        .WithFormatEnumsAsIntegers(true).WithPreserveProtoFieldNames(true));
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    private readonly ClientTransport _transport;
    private readonly EasyImClientOptions _options;
    private readonly Inbox _inbox;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _disposed = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Socket? _socket;
    private readonly Stream? _stream;
    private readonly ClientWebSocket? _webSocket;
    private Task _receiving = Task.CompletedTask;
    private Task _keepingAlive = Task.CompletedTask;
    private Task _renewing = Task.CompletedTask;

    private EasyImClient(ClientTransport transport, EasyImClientOptions options, Socket? socket, Stream? stream, ClientWebSocket? webSocket)
    {
        _transport = transport;
        _options = options;
        _inbox = new Inbox(options.MaxPendingFrames);
        _socket = socket;
        _stream = stream;
        _webSocket = webSocket;
    }

    public ClientTransport Transport => _transport;

    public bool IsJson => _transport is ClientTransport.TcpJson or ClientTransport.WebSocketJson;

    /// <summary>
    /// This connection's place in the user's update stream: <see cref="StreamPosition.Value"/> is the <c>after</c> to
    /// connect (or SYNC) with next time. It starts at the handshake's <c>after</c>, or else at the first update received.
    /// </summary>
    public StreamPosition Position { get; private set; } = new();

    /// <summary>The user the handshake authenticated, 0 before.</summary>
    public long UserId { get; private set; }

    /// <summary>Completes when the connection has ended, whoever ended it. Never faults.</summary>
    public Task Closed => _closed.Task;

    public bool IsClosed => _closed.Task.IsCompleted;

    /// <summary>Why the connection ended: the server closed it, or the error that ended it.</summary>
    public string? CloseReason { get; private set; }

    public static async Task<EasyImClient> ConnectAsync(string host, int port, ClientTransport transport,
        EasyImClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new EasyImClientOptions();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        EasyImClient client;
        if (transport is ClientTransport.TcpJson or ClientTransport.TcpProtobuf)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            Stream stream;
            try
            {
                await socket.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
                stream = new NetworkStream(socket, ownsSocket: false);
                if (options.Tls)
                {
                    var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                    try
                    {
                        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                        {
                            TargetHost = options.TlsTargetHost ?? host,
                            RemoteCertificateValidationCallback = options.ServerCertificateValidation,
                        }, timeout.Token).ConfigureAwait(false);
                    }
                    catch
                    {
                        await tls.DisposeAsync().ConfigureAwait(false);
                        throw;
                    }
                    stream = tls;
                }
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            client = new EasyImClient(transport, options, socket, stream, null);
        }
        else
        {
            var webSocket = new ClientWebSocket();
            if (options.ServerCertificateValidation is { } validate)
                webSocket.Options.RemoteCertificateValidationCallback = validate;
            try
            {
                await webSocket.ConnectAsync(new Uri($"{(options.Tls ? "wss" : "ws")}://{host}:{port}{options.WebSocketPath}"), timeout.Token).ConfigureAwait(false);
            }
            catch
            {
                webSocket.Dispose();
                throw;
            }
            client = new EasyImClient(transport, options, null, null, webSocket);
        }
        client._receiving = Task.Run(client.ReceiveLoopAsync);
        return client;
    }

    /// <summary>
    /// Sends the heartbeat with the token and waits for the server's answer: the KEEP_ALIVE reply
    /// (returned), or a NOTIFY (thrown as <see cref="EasyImServerException"/>).
    /// </summary>
    /// <param name="after">The device's position in the user's update stream, when it has one: the connect-time sync brings the messages after it.</param>
    public async Task<Msg> HandshakeAsync(long userId, string accessToken, string? deviceId = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default,
        ulong? after = null)
    {
        if (after is not null)
            Position = new StreamPosition(after);
        await SendAsync(Frames.Heartbeat(userId, accessToken, deviceId, after), cancellationToken).ConfigureAwait(false);
        var reply = await WaitForAsync(m => Frames.IsEvent(m, Frames.KeepAlive) || Frames.IsNotify(m),
            timeout ?? TimeSpan.FromSeconds(15), cancellationToken).ConfigureAwait(false);
        if (Frames.IsNotify(reply))
            throw new EasyImServerException(Frames.NotifyCode(reply) ?? 0, Frames.NotifyMessage(reply) ?? "", reply);
        UserId = userId;
        if (_options.KeepAliveEvery is { } every && _keepingAlive.IsCompleted)
            _keepingAlive = Task.Run(() => KeepAliveAsync(every));
        if (_options is { RenewEvery: { } renewEvery, FreshAccessToken: { } fresh } && _renewing.IsCompleted)
            _renewing = Task.Run(() => RenewAsync(renewEvery, fresh));
        return reply;
    }

    /// <summary>
    /// Renews the connection with a fresh access token of the same user: a heartbeat carrying it. The server
    /// answers the heartbeat reply (read like any other frame), or NOTIFY 401 and closes if the token is not a
    /// live one of this connection's user.
    /// </summary>
    public ValueTask RenewAsync(string accessToken, CancellationToken cancellationToken = default) =>
        SendAsync(Frames.Heartbeat(UserId, accessToken), cancellationToken);

    private async Task RenewAsync(TimeSpan every, Func<CancellationToken, Task<string>> fresh)
    {
        using var timer = new PeriodicTimer(every);
        try
        {
            while (await timer.WaitForNextTickAsync(_disposed.Token).ConfigureAwait(false) && !IsClosed)
                await RenewAsync(await fresh(_disposed.Token).ConfigureAwait(false), _disposed.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The connection ended, or no fresh token could be had: the server closes the connection (NOTIFY
            // 401) when its token expires, which the reader sees like any other close.
        }
    }

    private async Task KeepAliveAsync(TimeSpan every)
    {
        using var timer = new PeriodicTimer(every);
        try
        {
            while (await timer.WaitForNextTickAsync(_disposed.Token).ConfigureAwait(false) && !IsClosed)
                await SendAsync(Frames.Heartbeat(UserId), _disposed.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or WebSocketException)
        {
            // The connection ended or is being disposed: nothing left to keep alive.
        }
    }

    /// <summary>Sends one frame in the connection's format.</summary>
    public async ValueTask SendAsync(Msg msg, CancellationToken cancellationToken = default)
    {
        if (IsJson)
        {
            var json = Formatter.Format(msg);
            await SendRawAsync(Encoding.UTF8.GetBytes(_webSocket is null ? json + "\n" : json), cancellationToken).ConfigureAwait(false);
            return;
        }
        if (_webSocket is not null)
        {
            await SendRawAsync(msg.ToByteArray(), cancellationToken).ConfigureAwait(false);
            return;
        }
        using var buffer = new MemoryStream();
        msg.WriteDelimitedTo(buffer);
        await SendRawAsync(buffer.ToArray(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends bytes as they are: on TCP straight onto the stream (no framing added); on a WebSocket
    /// as one message, text for a JSON connection and binary for a protobuf one.
    /// </summary>
    public async ValueTask SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_webSocket is not null)
                await _webSocket.SendAsync(bytes, IsJson ? WebSocketMessageType.Text : WebSocketMessageType.Binary, true, cancellationToken).ConfigureAwait(false);
            else
                await _stream!.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>
    /// The first received frame, earliest first, that <paramref name="match"/> accepts, waiting up
    /// to <paramref name="timeout"/> for it. Frames it passes over stay for later calls. Throws
    /// <see cref="TimeoutException"/> (listing what was received), or
    /// <see cref="EasyImConnectionClosedException"/> when the connection ends first.
    /// </summary>
    public Task<Msg> WaitForAsync(Func<Msg, bool> match, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        _inbox.TakeAsync(match, timeout, cancellationToken);

    /// <summary>The next received frame.</summary>
    public Task<Msg> ReceiveAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        _inbox.TakeAsync(static _ => true, timeout, cancellationToken);

    /// <summary>Every received frame not taken otherwise, in order, until the connection ends.</summary>
    public async IAsyncEnumerable<Msg> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Msg msg;
            try
            {
                msg = await _inbox.TakeAsync(static _ => true, Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
            }
            catch (EasyImConnectionClosedException)
            {
                yield break;
            }
            yield return msg;
        }
    }

    /// <summary>Frames received and not yet taken, oldest first.</summary>
    public IReadOnlyList<Msg> Pending => _inbox.Snapshot();

    private async Task ReceiveLoopAsync()
    {
        Exception reason;
        try
        {
            if (_webSocket is not null)
                await ReceiveWebSocketAsync(_webSocket).ConfigureAwait(false);
            else
                await ReceiveTcpAsync(_stream!).ConfigureAwait(false);
            reason = new EasyImConnectionClosedException(CloseReason ??= "closed by the server");
        }
        catch (Exception ex)
        {
            CloseReason ??= _disposed.IsCancellationRequested ? "closed by the client" : $"{ex.GetType().Name}: {ex.Message}";
            reason = ex;
        }
        // Hang up our side too, so the server sees the end at once.
        try
        {
            _socket?.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        _socket?.Dispose();
        _inbox.Close(reason);
        _closed.TrySetResult();
    }

    private async Task ReceiveTcpAsync(Stream stream)
    {
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(_disposed.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (TryReadFrame(ref buffer, out var msg))
                {
                    Position.Note(msg);
                    await _inbox.PutAsync(msg, _disposed.Token).ConfigureAwait(false);
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                    return;
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out Msg msg)
    {
        msg = null!;
        if (IsJson)
        {
            while (true)
            {
                var newline = buffer.PositionOf((byte)'\n');
                if (newline is null)
                {
                    if (buffer.Length > _options.MaxFrameBytes)
                        throw new InvalidDataException($"the server sent a line longer than {_options.MaxFrameBytes} bytes");
                    return false;
                }
                var line = Encoding.UTF8.GetString(buffer.Slice(0, newline.Value)).Trim();
                buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
                if (line.Length == 0)
                    continue;
                msg = Parser.Parse<Msg>(line);
                return true;
            }
        }

        var reader = new SequenceReader<byte>(buffer);
        ulong length = 0;
        for (var shift = 0; ; shift += 7)
        {
            if (shift > 28)
                throw new InvalidDataException("the server sent a length prefix longer than 5 bytes");
            if (!reader.TryRead(out var b))
                return false;
            length |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
                break;
        }
        if (length > (ulong)_options.MaxFrameBytes)
            throw new InvalidDataException($"the server sent a frame of {length} bytes");
        if (reader.Remaining < (long)length)
            return false;
        var body = buffer.Slice(reader.Position, (long)length);
        msg = Msg.Parser.ParseFrom(body);
        buffer = buffer.Slice(body.End);
        return true;
    }

    private async Task ReceiveWebSocketAsync(ClientWebSocket socket)
    {
        var buffer = new byte[_options.MaxFrameBytes];
        while (true)
        {
            var count = 0;
            ValueWebSocketReceiveResult received;
            do
            {
                if (count == buffer.Length)
                    throw new InvalidDataException($"the server sent a message longer than {_options.MaxFrameBytes} bytes");
                received = await socket.ReceiveAsync(buffer.AsMemory(count), _disposed.Token).ConfigureAwait(false);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    CloseReason = $"closed by the server ({socket.CloseStatus} {socket.CloseStatusDescription})";
                    if (socket.State == WebSocketState.CloseReceived)
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).ConfigureAwait(false);
                    return;
                }
                count += received.Count;
            }
            while (!received.EndOfMessage);

            var msg = received.MessageType == WebSocketMessageType.Text
                ? Parser.Parse<Msg>(Encoding.UTF8.GetString(buffer, 0, count))
                : Msg.Parser.ParseFrom(buffer, 0, count);
            Position.Note(msg);
            await _inbox.PutAsync(msg, _disposed.Token).ConfigureAwait(false);
        }
    }

    /// <summary>Hangs up (a WebSocket with a close handshake) and waits for the receive loop to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_webSocket is { State: WebSocketState.Open })
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _webSocket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }
        _disposed.Cancel();
        await _keepingAlive.ConfigureAwait(false);
        await _renewing.ConfigureAwait(false);
        try
        {
            _socket?.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        _webSocket?.Abort();
        await _receiving.ConfigureAwait(false);
        _stream?.Dispose();
        _socket?.Dispose();
        _webSocket?.Dispose();
        _disposed.Dispose();
    }
}
