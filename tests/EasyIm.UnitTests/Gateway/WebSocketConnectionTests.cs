using System.Net.WebSockets;
using System.Text;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Wire;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace EasyIm.UnitTests.Gateway;

/// <summary>A WebSocket connection over an in-memory stream, with the real frame handler behind it.</summary>
public sealed class WebSocketConnectionTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly GatewayOptions _options = new();
    private GatewayServices _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayServices.StartAsync(_options);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private async Task<Msg> ReceiveAsync(WebSocket client)
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
        return received.MessageType == WebSocketMessageType.Text
            ? MsgCodec.DecodeJson(new(buffer.AsMemory(0, count)))
            : MsgCodec.DecodeProtobuf(new(buffer.AsMemory(0, count)));
    }

    [Fact]
    public async Task An_idle_connection_holds_no_receive_buffer_and_its_transport_read_has_none()
    {
        var (serverEnd, clientEnd) = DuplexStream.Pair();
        using var server = WebSocket.CreateFromStream(serverEnd, new WebSocketCreationOptions { IsServer = true });
        using var client = WebSocket.CreateFromStream(clientEnd, new WebSocketCreationOptions { IsServer = false });
        var connection = new WebSocketConnection(server, "unit:ws", _options, NullLogger.Instance);
        _gateway.Registry.Opened(connection);
        var running = connection.RunAsync(_gateway.Handler, TimeSpan.FromSeconds(30));

        // Before the first message: the connection waits with nothing.
        Assert.Equal(0, await serverEnd.ReadWaitingAsync().WaitAsync(Wait));
        Assert.Equal(0, connection.ReceiveBufferBytes);

        // Half a message: now it holds a buffer for it.
        var heartbeat = Encoding.UTF8.GetBytes(MsgCodec.ToJson(GatewayServices.Heartbeat()));
        var waits = serverEnd.Waits;
        await client.SendAsync(heartbeat.AsMemory(0, 10), WebSocketMessageType.Text, endOfMessage: false, CancellationToken.None);
        Assert.NotEqual(0, await serverEnd.ReadWaitingAsync(after: waits).WaitAsync(Wait));
        Assert.True(connection.ReceiveBufferBytes > 0);

        // The rest: it is handled (the heartbeat reply), and the buffer goes back.
        waits = serverEnd.Waits;
        await client.SendAsync(heartbeat.AsMemory(10), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        var reply = await ReceiveAsync(client);
        Assert.Equal("{\"code\":200,\"msg\":\"SUCCESS\",\"data\":{\"key\":\"KEEP_ALIVE\"}}", reply.Content);
        Assert.Equal(0, await serverEnd.ReadWaitingAsync(after: waits).WaitAsync(Wait));
        Assert.Equal(0, connection.ReceiveBufferBytes);

        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        await running.WaitAsync(Wait);
        Assert.Equal("closed by the client", connection.CloseReason);
    }
}
