using EasyIm.Contracts.Auth;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Delivery;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EasyIm.UnitTests.Gateway;

/// <summary>
/// A connection lives as long as the access token it stands on: the sweep closes it (NOTIFY 401) when the
/// token expires on the gateway's clock (here a fake one), unless a heartbeat renewed it with a fresh token
/// of the same user; a session revoked (by event, or found revoked after a broker fault) closes it too.
/// </summary>
public sealed class TokenExpiryTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new();
    // Idle connections are not dropped within these tests: only their tokens end them.
    private readonly GatewayOptions _options = new() { HandshakeTimeout = 10, DropAfter = 86_400 };
    private GatewayServices _gateway = null!;
    private ConnectionSweeper _sweeper = null!;

    public async Task InitializeAsync()
    {
        _gateway = await GatewayServices.StartAsync(_options, _time);
        _sweeper = new ConnectionSweeper(_gateway.Registry, _time);
    }

    public async Task DisposeAsync()
    {
        _sweeper.Dispose();
        await _gateway.DisposeAsync();
    }

    private async Task<(RecordingConnection Connection, Task Running)> SignedInAsync(string token = GatewayServices.GoodToken, long userId = GatewayServices.UserId)
    {
        var connection = new RecordingConnection(_options, _time);
        _gateway.Registry.Opened(connection);
        var running = connection.RunAsync(_gateway.Handler);
        var heartbeat = GatewayServices.Heartbeat();
        heartbeat.AccessToken = token;
        heartbeat.FromUserId = userId.ToString();
        await connection.Incoming.Writer.WriteAsync(heartbeat);
        Assert.Equal("{\"code\":200,\"msg\":\"SUCCESS\",\"data\":{\"key\":\"KEEP_ALIVE\"}}", (await connection.NextWrittenAsync()).Msg.Content);
        await HandledAsync(connection);
        return (connection, running);
    }

    /// <summary>Waits until the connection's frame is handled (the reply leaves before it is).</summary>
    private static async Task HandledAsync(RecordingConnection connection)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (connection.HandlingFrame && DateTime.UtcNow < deadline)
            await Task.Delay(5);
        Assert.False(connection.HandlingFrame, "the frame was still being handled");
    }

    private static Msg KeepAlive(string? token = null) =>
        new() { MsgType = Msg.Types.MsgType.Event, Content = "{\"key\":\"KEEP_ALIVE\"}", AccessToken = token ?? "" };

    private static async Task<Msg> ClosedWith401Async(RecordingConnection connection, Task running)
    {
        var notify = (await connection.NextWrittenAsync()).Msg;
        Assert.Equal(Msg.Types.MsgType.Notify, notify.MsgType);
        Assert.StartsWith("{\"code\":401,", notify.Content);
        Assert.True(connection.IsClosing);
        connection.Incoming.Writer.Complete();
        await running.WaitAsync(Wait);
        return notify;
    }

    private void Advance(TimeSpan by)
    {
        _time.Advance(by);
        _sweeper.Sweep();
    }

    [Fact]
    public async Task The_sweep_closes_a_connection_with_notify_401_when_its_access_token_expires()
    {
        var (connection, running) = await SignedInAsync();

        Advance(GatewayServices.TokenLifetime - TimeSpan.FromSeconds(1));
        Assert.False(connection.IsClosing);
        // A heartbeat without a token keeps the connection from being silent, not its token from expiring.
        await connection.Incoming.Writer.WriteAsync(KeepAlive());
        Assert.Equal(Msg.Types.MsgType.Event, (await connection.NextWrittenAsync()).Msg.MsgType);
        await HandledAsync(connection);
        Advance(TimeSpan.FromSeconds(1));

        var notify = await ClosedWith401Async(connection, running);
        Assert.Contains("access token expired", notify.Content, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_heartbeat_with_a_fresh_token_of_the_same_user_renews_the_connection_until_that_token_expires()
    {
        var (connection, running) = await SignedInAsync();
        var (notRenewed, notRenewedRunning) = await SignedInAsync();

        Advance(TimeSpan.FromMinutes(50));
        await connection.Incoming.Writer.WriteAsync(KeepAlive(GatewayServices.FreshToken));
        Assert.Equal("{\"code\":200,\"msg\":\"SUCCESS\",\"data\":{\"key\":\"KEEP_ALIVE\"}}", (await connection.NextWrittenAsync()).Msg.Content);
        await HandledAsync(connection);

        // Past the first token's expiry: the connection that did not renew is closed, the renewed one stays.
        Advance(TimeSpan.FromMinutes(11));
        await ClosedWith401Async(notRenewed, notRenewedRunning);
        Assert.False(connection.IsClosing);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromMinutes(49), connection.Session!.ExpiresAt);

        // Until the fresh token (asked for at 50 minutes) expires.
        Advance(TimeSpan.FromMinutes(49) - TimeSpan.FromSeconds(1));
        Assert.False(connection.IsClosing);
        Advance(TimeSpan.FromSeconds(1));
        await ClosedWith401Async(connection, running);
    }

    [Theory]
    [InlineData(GatewayServices.OtherUserToken)]
    [InlineData("not-a-token")]
    [InlineData(GatewayServices.ExpiredToken)]
    public async Task A_heartbeat_with_another_users_or_an_invalid_or_expired_token_closes_the_connection_with_notify_401(string token)
    {
        var (connection, running) = await SignedInAsync();

        await connection.Incoming.Writer.WriteAsync(KeepAlive(token));

        await ClosedWith401Async(connection, running);
    }

    [Fact]
    public async Task A_heartbeat_naming_another_user_with_that_users_token_closes_the_connection_with_notify_401()
    {
        var (connection, running) = await SignedInAsync();
        var heartbeat = KeepAlive(GatewayServices.OtherUserToken);
        heartbeat.FromUserId = GatewayServices.OtherUserId.ToString();

        await connection.Incoming.Writer.WriteAsync(heartbeat);

        await ClosedWith401Async(connection, running);
        Assert.Equal(GatewayServices.UserId, connection.Session!.UserId);
    }

    [Fact]
    public async Task A_handshake_with_a_token_already_expired_on_the_gateways_clock_is_refused_with_notify_401()
    {
        var connection = new RecordingConnection(_options, _time);
        _gateway.Registry.Opened(connection);
        var running = connection.RunAsync(_gateway.Handler);
        var heartbeat = GatewayServices.Heartbeat();
        heartbeat.AccessToken = GatewayServices.ExpiredToken;

        await connection.Incoming.Writer.WriteAsync(heartbeat);

        await ClosedWith401Async(connection, running);
        Assert.Null(connection.Session);
    }

    [Fact]
    public async Task A_revoked_session_closes_its_connections_only_and_a_renewal_moves_a_connection_to_its_tokens_session()
    {
        var (first, firstRunning) = await SignedInAsync();
        var (moved, _) = await SignedInAsync();
        var (other, _) = await SignedInAsync(GatewayServices.OtherSessionToken);
        await moved.Incoming.Writer.WriteAsync(KeepAlive(GatewayServices.OtherSessionToken));
        Assert.Equal(Msg.Types.MsgType.Event, (await moved.NextWrittenAsync()).Msg.MsgType);
        await HandledAsync(moved);
        Assert.Equal(GatewayServices.OtherSessionId, moved.Session!.SessionId);

        await _gateway.Harness.Bus.Publish(new UserSessionRevoked(GatewayServices.UserId, GatewayServices.SessionId));

        var notify = await ClosedWith401Async(first, firstRunning);
        Assert.Contains("session was revoked", notify.Content, StringComparison.Ordinal);
        Assert.False(moved.IsClosing);
        Assert.False(other.IsClosing);
    }

    [Fact]
    public async Task A_renewal_with_a_token_of_a_session_revoked_meanwhile_closes_the_connection()
    {
        var (connection, running) = await SignedInAsync(GatewayServices.OtherSessionToken);
        // The revocation of session 71 is heard while no connection stands on it...
        await _gateway.Harness.Bus.Publish(new UserSessionRevoked(GatewayServices.UserId, GatewayServices.SessionId));
        Assert.True(await _gateway.Harness.Consumed.Any<UserSessionRevoked>());

        // ...then a renewal with a token of it that auth had validated just before.
        await connection.Incoming.Writer.WriteAsync(KeepAlive(GatewayServices.FreshToken));

        await ClosedWith401Async(connection, running);
    }

    [Fact]
    public async Task After_a_broker_fault_the_connections_whose_sessions_auth_finds_revoked_are_closed_and_the_others_stay()
    {
        var (revoked, revokedRunning) = await SignedInAsync();
        var (live, _) = await SignedInAsync(GatewayServices.OtherSessionToken);
        lock (_gateway.Revoked)
            _gateway.Revoked.Add(new LiveSession(GatewayServices.UserId, GatewayServices.SessionId, 1));
        var recheck = new RecheckSessionsAfterReconnect(new GatewayIdentity("unit"), _gateway.Registry, _gateway.Services,
            new StoppingLifetime(), _time, NullLogger<RecheckSessionsAfterReconnect>.Instance);

        var closed = await recheck.RecheckAsync(CancellationToken.None).WaitAsync(Wait);

        Assert.Equal(1, closed);
        var notify = await ClosedWith401Async(revoked, revokedRunning);
        Assert.Contains("away from the bus", notify.Content, StringComparison.Ordinal);
        Assert.False(live.IsClosing);
    }

    private sealed class StoppingLifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;
        public CancellationToken ApplicationStopping => CancellationToken.None;
        public CancellationToken ApplicationStopped => CancellationToken.None;
        public void StopApplication() { }
    }
}
