using EasyIm.Contracts.Wire;
using EasyIm.Gateway;
using EasyIm.Gateway.Connections;
using Microsoft.Extensions.Time.Testing;

namespace EasyIm.UnitTests.Gateway;

/// <summary>Silent connections are closed by the gateway-wide sweep, on the gateway's clock (here a fake one).</summary>
public sealed class ConnectionSweeperTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new();
    private readonly GatewayOptions _options = new() { HandshakeTimeout = 10, DropAfter = 300 };
    private GatewayServices _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayServices.StartAsync(_options, _time);

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private (RecordingConnection Connection, Task Running) Open()
    {
        var connection = new RecordingConnection(_options, _time);
        _gateway.Registry.Opened(connection);
        return (connection, connection.RunAsync(_gateway.Handler));
    }

    private static async Task<Msg> NotifyAsync(RecordingConnection connection)
    {
        var notify = (await connection.NextWrittenAsync()).Msg;
        Assert.Equal(Msg.Types.MsgType.Notify, notify.MsgType);
        return notify;
    }

    /// <summary>Still open 299 s on, closed with NOTIFY 408 past 300 s (DropAfter from its last frame).</summary>
    private async Task DroppedAfterDropAfterAsync(RecordingConnection connection, Task running, ConnectionSweeper sweeper)
    {
        _time.Advance(TimeSpan.FromSeconds(299));
        sweeper.Sweep();
        Assert.False(connection.IsClosing);

        _time.Advance(TimeSpan.FromSeconds(2));
        sweeper.Sweep();

        Assert.True(connection.IsClosing);
        Assert.Equal("{\"code\":408,\"msg\":\"no frame for 300 seconds\"}", (await NotifyAsync(connection)).Content);
        connection.Incoming.Writer.Complete();
        await running.WaitAsync(Wait);
    }

    [Fact]
    public async Task The_sweep_closes_a_connection_silent_past_DropAfter_and_each_frame_restarts_its_time()
    {
        var (connection, running) = Open();
        await connection.Incoming.Writer.WriteAsync(GatewayServices.Heartbeat());
        Assert.Equal(Msg.Types.MsgType.Event, (await connection.NextWrittenAsync()).Msg.MsgType);
        var sweeper = new ConnectionSweeper(_gateway.Registry, _time);

        _time.Advance(TimeSpan.FromSeconds(299));
        sweeper.Sweep();
        Assert.False(connection.IsClosing);

        // A frame 299 s in: the connection has another 300 s from here.
        await connection.Incoming.Writer.WriteAsync(new Msg { MsgType = Msg.Types.MsgType.Event, Content = "{\"key\":\"KEEP_ALIVE\"}" });
        Assert.Equal(Msg.Types.MsgType.Event, (await connection.NextWrittenAsync()).Msg.MsgType);
        await DroppedAfterDropAfterAsync(connection, running, sweeper);
    }

    [Fact]
    public async Task The_running_sweeper_closes_a_connection_that_does_not_handshake_in_time()
    {
        using var sweeper = new ConnectionSweeper(_gateway.Registry, _time);
        await sweeper.StartAsync(CancellationToken.None);
        var (silent, running) = Open();
        var (signedIn, _) = Open();
        await signedIn.Incoming.Writer.WriteAsync(GatewayServices.Heartbeat());
        Assert.Equal(Msg.Types.MsgType.Event, (await signedIn.NextWrittenAsync()).Msg.MsgType);

        // Past the handshake timeout, one sweep period at a time, as the gateway's clock moves.
        for (var i = 0; i < 11; i++)
            _time.Advance(ConnectionSweeper.Every);

        var notify = await NotifyAsync(silent);
        Assert.Equal("{\"code\":408,\"msg\":\"no heartbeat handshake within 10 seconds\"}", notify.Content);
        await running.WaitAsync(Wait);
        Assert.False(signedIn.IsClosing);
        await sweeper.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_connection_whose_frame_the_server_is_still_handling_is_not_silent_and_its_time_starts_after()
    {
        var (connection, running) = Open();
        var sweeper = new ConnectionSweeper(_gateway.Registry, _time);
        var heartbeat = GatewayServices.Heartbeat();
        heartbeat.AccessToken = GatewayServices.SlowToken;
        await connection.Incoming.Writer.WriteAsync(heartbeat);
        await _gateway.AuthAsked.WaitAsync(Wait);

        // Auth is slow: the handshake timeout passes while the gateway itself waits on it.
        _time.Advance(TimeSpan.FromSeconds(11));
        sweeper.Sweep();
        Assert.False(connection.IsClosing);

        _gateway.AuthAnswers.SetResult();
        Assert.Equal(Msg.Types.MsgType.Event, (await connection.NextWrittenAsync()).Msg.MsgType);
        // The reply leaves before the handshake is done (it still registers the connection and says so on
        // the bus); DropAfter counts from when it is done, so the clock moves only after that.
        var deadline = DateTime.UtcNow + Wait;
        while (connection.HandlingFrame && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.False(connection.HandlingFrame, "the handshake frame was still being handled");
        await DroppedAfterDropAfterAsync(connection, running, sweeper);
    }
}

