using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;
using EasyIm.LoadTest.Targets;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WireFormat = EasyIm.Gateway.Wire.WireFormat;

namespace EasyIm.LoadTest.Relay;

/// <summary>
/// The baseline: the least a relay must do for the same client work, as its own process (the tool
/// started in its hidden <c>relay</c> mode), so its CPU and memory are measured like EasyIm's.
/// Kestrel; raw TCP (JSON lines or varint protobuf, told apart by the first byte) on one port and
/// WebSocket (text JSON, binary protobuf) on another; the gateway's own framing and codec
/// (<see cref="MsgCodec"/>), a queue and a write loop per connection as the gateway has. Any
/// heartbeat is accepted (KEEP_ALIVE reply, then SYNC done); a chat message gets an id and the next
/// seq of its conversation, is acked to its sender with the stored copy, and is written to the
/// recipient (a group message: to every other connection). Receipts are read and dropped.
/// No bus, no database, no batching, no checks.
/// </summary>
public static class BareRelay
{
    /// <summary>Runs until stdin ends; prints <c>READY &lt;tcp port&gt; &lt;websocket port&gt;</c> once listening.</summary>
    public static async Task<int> RunAsync()
    {
        var tcpPort = EasyImTarget.FreePort();
        var webSocketPort = EasyImTarget.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton<RelayHub>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, tcpPort, l => l.UseConnectionHandler<TcpRelayHandler>());
            k.Listen(IPAddress.Loopback, webSocketPort);
        });
        var app = builder.Build();
        app.UseWebSockets();
        app.Run(async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            await new WebSocketPeer(socket).RunAsync(app.Services.GetRequiredService<RelayHub>());
        });
        await app.StartAsync();
        Console.WriteLine($"READY {tcpPort} {webSocketPort}");
        while (await Console.In.ReadLineAsync() is { } line && line != "stop")
        {
        }
        await app.StopAsync();
        return 0;
    }
}

/// <summary>Who is connected, and every conversation's last seq.</summary>
internal sealed class RelayHub
{
    private const string SuccessKeepAlive = """{"code":200,"msg":"SUCCESS","data":{"key":"KEEP_ALIVE"}}""";
    private const string SuccessSyncDone = """{"code":200,"msg":"SUCCESS","data":{"key":"SYNC","done":true}}""";

    private readonly ConcurrentDictionary<long, RelayPeer> _users = new();
    private readonly ConcurrentDictionary<string, StrongBox<long>> _seqs = new();
    private long _ids;

    public void Handle(RelayPeer self, Msg msg)
    {
        if (msg.MsgType == Msg.Types.MsgType.Event)
        {
            if (self.UserId == 0)
            {
                if (!long.TryParse(msg.FromUserId, NumberStyles.None, CultureInfo.InvariantCulture, out var userId))
                    return;
                self.UserId = userId;
                self.UserIdText = msg.FromUserId;
                _users[userId] = self;
                self.Send(Event(self, SuccessKeepAlive));
                self.Send(Event(self, SuccessSyncDone));
            }
            else if (msg.Content.Contains("KEEP_ALIVE", StringComparison.Ordinal))
            {
                self.Send(Event(self, SuccessKeepAlive));
            }
            return;
        }
        if (self.UserId == 0 || !long.TryParse(msg.ToUserId, NumberStyles.None, CultureInfo.InvariantCulture, out var to))
            return;

        var group = msg.ChatType == Msg.Types.ChatType.Group;
        var conversation = group ? "g_" + msg.ToUserId
            : self.UserId < to ? $"s_{self.UserIdText}_{msg.ToUserId}" : $"s_{msg.ToUserId}_{self.UserIdText}";
        var seq = _seqs.GetOrAdd(conversation, static _ => new StrongBox<long>());
        var stored = new Msg
        {
            Id = Interlocked.Increment(ref _ids).ToString(CultureInfo.InvariantCulture),
            Seq = msg.Seq,
            FromUserId = self.UserIdText,
            ToUserId = msg.ToUserId,
            ChatType = msg.ChatType,
            MsgType = msg.MsgType,
            Status = Msg.Types.MsgStatus.Sent,
            Content = msg.Content,
            ClientMsgId = msg.ClientMsgId,
            ConversationId = conversation,
            ConversationSeq = (ulong)Interlocked.Increment(ref seq.Value),
            SentAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        self.Send(stored);
        if (!group)
        {
            if (_users.TryGetValue(to, out var peer))
                peer.Send(stored);
            return;
        }
        // A group is everyone connected: the fan-out scenario connects exactly the group's members.
        foreach (var (_, peer) in _users)
        {
            if (peer != self)
                peer.Send(stored);
        }
    }

    public void Closed(RelayPeer peer)
    {
        if (peer.UserId != 0)
            _users.TryRemove(new KeyValuePair<long, RelayPeer>(peer.UserId, peer));
    }

    private static Msg Event(RelayPeer to, string content) => new()
    {
        MsgType = Msg.Types.MsgType.Event,
        ToUserId = to.UserIdText,
        Content = content,
    };
}

/// <summary>One connection: frames read in by its transport, frames out through a queue and a write loop.</summary>
internal abstract class RelayPeer
{
    private readonly Channel<Msg> _outbound = Channel.CreateUnbounded<Msg>(new UnboundedChannelOptions { SingleReader = true });

    public long UserId { get; set; }
    public string UserIdText { get; set; } = "";

    public void Send(Msg msg) => _outbound.Writer.TryWrite(msg);

    public async Task RunAsync(RelayHub hub)
    {
        var writing = WriteLoopAsync(_outbound.Reader);
        try
        {
            await ReadLoopAsync(hub);
        }
        catch (Exception ex) when (ex is IOException or WebSocketException or ConnectionResetException or FrameException or OperationCanceledException)
        {
        }
        finally
        {
            hub.Closed(this);
            _outbound.Writer.TryComplete();
            try
            {
                await writing;
            }
            catch (Exception ex) when (ex is IOException or WebSocketException or ConnectionResetException or OperationCanceledException)
            {
            }
        }
    }

    protected abstract Task ReadLoopAsync(RelayHub hub);

    protected abstract Task WriteLoopAsync(ChannelReader<Msg> outbound);
}

internal sealed class TcpRelayHandler(RelayHub hub) : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection) => new TcpPeer(connection).RunAsync(hub);
}

internal sealed class TcpPeer(ConnectionContext connection) : RelayPeer
{
    private const int MaxFrameBytes = 64 * 1024;
    private WireFormat _format;

    protected override async Task ReadLoopAsync(RelayHub hub)
    {
        var input = connection.Transport.Input;
        IFrameReader? frames = null;
        while (true)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            if (frames is null && !buffer.IsEmpty)
            {
                _format = buffer.FirstSpan[0] == (byte)'{' ? WireFormat.Json : WireFormat.Protobuf;
                frames = _format == WireFormat.Json ? new JsonLineFrameReader(MaxFrameBytes) : new VarintFrameReader(MaxFrameBytes);
            }
            while (frames is not null && frames.TryParseFrame(ref buffer, out var frame))
                hub.Handle(this, MsgCodec.Decode(frame, _format));
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
                return;
        }
    }

    protected override async Task WriteLoopAsync(ChannelReader<Msg> outbound)
    {
        var output = connection.Transport.Output;
        while (await outbound.WaitToReadAsync())
        {
            while (outbound.TryRead(out var msg))
            {
                if (_format == WireFormat.Json)
                    MsgCodec.WriteJsonLine(msg, output);
                else
                    MsgCodec.WriteDelimited(msg, output);
            }
            var flushed = await output.FlushAsync();
            if (flushed.IsCompleted)
                return;
        }
    }
}

internal sealed class WebSocketPeer(WebSocket socket) : RelayPeer
{
    private const int MaxFrameBytes = 64 * 1024;
    private WireFormat _format;

    protected override async Task ReadLoopAsync(RelayHub hub)
    {
        // 4 KiB held per connection, grown only for a longer message: what a plain WebSocket server holds.
        var buffer = new byte[4096];
        while (true)
        {
            var count = 0;
            ValueWebSocketReceiveResult received;
            do
            {
                if (count == buffer.Length)
                {
                    if (buffer.Length >= MaxFrameBytes)
                        throw new FrameException("a WebSocket message over 64 KiB");
                    Array.Resize(ref buffer, buffer.Length * 2);
                }
                received = await socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    if (socket.State == WebSocketState.CloseReceived)
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    return;
                }
                count += received.Count;
            }
            while (!received.EndOfMessage);
            _format = received.MessageType == WebSocketMessageType.Text ? WireFormat.Json : WireFormat.Protobuf;
            hub.Handle(this, MsgCodec.Decode(new ReadOnlySequence<byte>(buffer, 0, count), _format));
        }
    }

    protected override async Task WriteLoopAsync(ChannelReader<Msg> outbound)
    {
        while (await outbound.WaitToReadAsync())
        {
            while (outbound.TryRead(out var msg))
            {
                if (socket.State != WebSocketState.Open)
                    return;
                if (_format == WireFormat.Json)
                    await socket.SendAsync(MsgCodec.ToJsonBytes(msg), WebSocketMessageType.Text, true, CancellationToken.None);
                else
                    await socket.SendAsync(msg.ToByteArray(), WebSocketMessageType.Binary, true, CancellationToken.None);
            }
        }
    }
}
