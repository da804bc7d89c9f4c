using System.Net.WebSockets;
using System.Text;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Wire;
using Google.Protobuf;
using WireFormat = EasyIm.Gateway.Wire.WireFormat;
using MassTransit;
using Microsoft.Extensions.Logging.Abstractions;

namespace EasyIm.UnitTests.Gateway;

/// <summary>A frame pushed to many connections is encoded once per wire format, and every connection writes the same bytes.</summary>
public sealed class OutboundFrameTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly GatewayOptions _options = new();
    private GatewayServices _gateway = null!;

    private static Msg Chat() => new()
    {
        Id = "384514773351399424",
        FromUserId = "384514773351399400",
        ToUserId = "384514773351399425",
        MsgType = Msg.Types.MsgType.Text,
        Status = Msg.Types.MsgStatus.Sent,
        Content = "你好 👋 \"quoted\"\nand a new line",
        ConversationId = "g_9",
        ConversationSeq = 12,
        SentAt = 1795740836000,
    };

    public async Task InitializeAsync() => _gateway = await GatewayServices.StartAsync(_options);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public void Its_bytes_are_the_codecs_for_each_transport()
    {
        var msg = Chat();
        var frame = new OutboundFrame(msg);
        using var delimited = new MemoryStream();
        msg.WriteDelimitedTo(delimited);

        Assert.Equal(Encoding.UTF8.GetBytes(MsgCodec.ToJson(msg) + "\n"), frame.StreamBytes(WireFormat.Json).ToArray());
        Assert.Equal(MsgCodec.ToJsonBytes(msg), frame.MessageBytes(WireFormat.Json).ToArray());
        Assert.Equal(delimited.ToArray(), frame.StreamBytes(WireFormat.Protobuf).ToArray());
        Assert.Equal(msg.ToByteArray(), frame.MessageBytes(WireFormat.Protobuf).ToArray());
        Assert.Equal(2, frame.Encodings);
    }

    [Fact]
    public async Task Writers_of_one_format_racing_encode_it_once()
    {
        var frame = new OutboundFrame(Chat());
        using var start = new Barrier(8);

        var bytes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() =>
        {
            start.SignalAndWait(Wait);
            return frame.StreamBytes(i % 2 == 0 ? WireFormat.Json : WireFormat.Protobuf);
        })));

        Assert.Equal(2, frame.Encodings);
        Assert.True(bytes.Where((_, i) => i % 2 == 0).All(b => b.Equals(bytes[0])), "JSON writers got different buffers");
    }

    /// <summary>A WebSocket connection over an in-memory stream, signed in in <paramref name="format"/>.</summary>
    private async Task<(WebSocketConnection Server, WebSocket Client)> SignedInWebSocketAsync(WireFormat format)
    {
        var (serverEnd, clientEnd) = DuplexStream.Pair();
        var server = WebSocket.CreateFromStream(serverEnd, new WebSocketCreationOptions { IsServer = true });
        var client = WebSocket.CreateFromStream(clientEnd, new WebSocketCreationOptions { IsServer = false });
        var connection = new WebSocketConnection(server, "unit:" + Guid.NewGuid().ToString("N")[..8], _options, NullLogger.Instance);
        _gateway.Registry.Opened(connection);
        _ = connection.RunAsync(_gateway.Handler, TimeSpan.FromSeconds(30));
        var heartbeat = GatewayServices.Heartbeat();
        await client.SendAsync(format == WireFormat.Json ? MsgCodec.ToJsonBytes(heartbeat) : heartbeat.ToByteArray(),
            format == WireFormat.Json ? WebSocketMessageType.Text : WebSocketMessageType.Binary, true, CancellationToken.None);
        Assert.Equal(Msg.Types.MsgType.Event, (await ReceiveAsync(client)).Msg.MsgType);
        return (connection, client);
    }

    private static async Task<(Msg Msg, WebSocketMessageType Type)> ReceiveAsync(WebSocket client)
    {
        var buffer = new byte[64 * 1024];
        var count = 0;
        ValueWebSocketReceiveResult received;
        do
        {
            received = await client.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None).AsTask().WaitAsync(Wait);
            count += received.Count;
        }
        while (!received.EndOfMessage);
        var msg = received.MessageType == WebSocketMessageType.Text
            ? MsgCodec.DecodeJson(new(buffer.AsMemory(0, count)))
            : MsgCodec.DecodeProtobuf(new(buffer.AsMemory(0, count)));
        return (msg, received.MessageType);
    }

    [Fact]
    public async Task A_frame_written_by_connections_of_both_formats_is_encoded_once_per_format()
    {
        var json1 = await SignedInWebSocketAsync(WireFormat.Json);
        var protobuf = await SignedInWebSocketAsync(WireFormat.Protobuf);
        var json2 = await SignedInWebSocketAsync(WireFormat.Json);
        var frame = new OutboundFrame(Chat());

        foreach (var (server, _) in new[] { json1, protobuf, json2 })
            Assert.True(server.Send(frame));

        foreach (var (client, type) in new[] { (json1.Client, WebSocketMessageType.Text), (protobuf.Client, WebSocketMessageType.Binary), (json2.Client, WebSocketMessageType.Text) })
            Assert.Equal((Chat(), type), await ReceiveAsync(client));
        Assert.Equal(2, frame.Encodings);
    }

    [Fact]
    public async Task One_push_for_many_users_reaches_each_of_their_connections_as_one_frame()
    {
        var connections = new List<RecordingConnection>();
        foreach (var (userId, format) in new[] { (1L, WireFormat.Json), (2L, WireFormat.Protobuf), (2L, WireFormat.Json), (3L, WireFormat.Protobuf) })
        {
            var connection = new RecordingConnection(_options, format: format) { Session = new Session(userId, null, new TokenGrant(1, 0, DateTimeOffset.MaxValue)) };
            _gateway.Registry.Opened(connection);
            Assert.True(_gateway.Registry.TryAdd(connection, out _));
            _ = connection.RunAsync(_gateway.Handler);
            connections.Add(connection);
        }
        var typing = new WireMessage { MsgType = (int)Msg.Types.MsgType.Event, FromUserId = 9, Content = "{\"key\":\"TYPING\"}" };
        var push = new PushToUsers([new UserPush(1, typing, AlsoUserIds: [2, 3, 404])]);

        await _gateway.Harness.Bus.Publish(push);

        var written = await Task.WhenAll(connections.Select(c => c.NextWrittenAsync()));
        Assert.All(written, frame => Assert.Same(written[0], frame));
        Assert.Equal("{\"key\":\"TYPING\"}", written[0].Msg.Content);
        Assert.Equal(2, written[0].Encodings);
        Assert.False(await _gateway.Harness.Published.Any<Fault<PushToUsers>>());
    }

    [Fact]
    public async Task A_stored_message_back_at_its_senders_gateway_is_the_ack_for_the_sending_connection_and_the_copy_for_the_others()
    {
        RecordingConnection Signed(long userId)
        {
            var connection = new RecordingConnection(_options) { Session = new Session(userId, null, new TokenGrant(1, 0, DateTimeOffset.MaxValue)) };
            _gateway.Registry.Opened(connection);
            Assert.True(_gateway.Registry.TryAdd(connection, out _));
            _ = connection.RunAsync(_gateway.Handler);
            return connection;
        }
        var (sending, otherDevice, peer) = (Signed(1), Signed(1), Signed(2));
        var stored = new WireMessage
        {
            Id = 77, FromUserId = 1, ToUserId = 2, Status = 1, Content = "hi", ClientMsgId = "c-1", ConversationId = "s_1_2", ConversationSeq = 1, SentAt = 5,
        };

        await _gateway.Harness.Bus.Publish(new PushToUsers([new UserPush(1, stored, AckConnectionId: sending.Id, AckSeq: 42, AlsoUserIds: [2])]));

        var ack = await sending.NextWrittenAsync();
        var copy = await otherDevice.NextWrittenAsync();
        var delivered = await peer.NextWrittenAsync();
        Assert.Equal((42U, "c-1", 1UL), (ack.Msg.Seq, ack.Msg.ClientMsgId, ack.Msg.ConversationSeq));
        Assert.Equal((0U, "c-1", 1UL), (copy.Msg.Seq, copy.Msg.ClientMsgId, copy.Msg.ConversationSeq));
        Assert.Same(copy, delivered);
        Assert.False(await _gateway.Harness.Published.Any<Fault<PushToUsers>>());
    }
}
