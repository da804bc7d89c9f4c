using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway;
using EasyIm.Gateway.Connections;
using MassTransit;

namespace EasyIm.UnitTests.Gateway;

/// <summary>What a client over a budget gets: the frame dropped and NOTIFY 429 naming the budget, a refused chat message its FAIL, and on repeat the close.</summary>
public sealed class OverBudgetTests : IAsyncLifetime
{
    private readonly GatewayOptions _options = new()
    {
        MaxConnectionsPerUser = 1,
        RateLimit = new GatewayOptions.RateLimitOptions { PerSecond = 1, Burst = 1 },
        Budgets = new GatewayOptions.BudgetOptions
        {
            Sync = new GatewayOptions.Budget { PerSecond = 0.01, Burst = 2 },
            KeepAlive = new GatewayOptions.Budget { PerSecond = 0.01, Burst = 3 },
            RefusalsBeforeClose = 3,
            RefusalWindow = 60,
        },
    };
    private GatewayServices _gateway = null!;

    /// <summary>Messaging's side of a sync, with nothing to send.</summary>
    private sealed class EmptySync : IConsumer<SyncConversations>
    {
        public Task Consume(ConsumeContext<SyncConversations> context) => context.RespondAsync(new SyncPage([], null));
    }

    public async Task InitializeAsync() => _gateway = await GatewayServices.StartAsync(_options, more: (_, bus) => bus.AddConsumer<EmptySync>());

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private async Task<(RecordingConnection Connection, Task Running)> SignedInAsync()
    {
        var connection = new RecordingConnection(_options);
        _gateway.Registry.Opened(connection);
        var running = Task.Run(async () =>
        {
            await connection.RunAsync(_gateway.Handler);
            await _gateway.Handler.ClosedAsync(connection);
        });
        await connection.Incoming.Writer.WriteAsync(GatewayServices.Heartbeat());
        Assert.Contains("KEEP_ALIVE", (await connection.NextWrittenAsync()).Msg.Content);
        return (connection, running);
    }

    private static async Task<Msg> NotifyAsync(RecordingConnection connection)
    {
        while (true)
        {
            var msg = (await connection.NextWrittenAsync()).Msg;
            if (msg.MsgType == Msg.Types.MsgType.Notify)
                return msg;
        }
    }

    [Fact]
    public async Task A_SYNC_over_budget_is_answered_429_naming_it_and_the_third_refusal_closes()
    {
        var (connection, running) = await SignedInAsync();
        var sync = new Msg { MsgType = Msg.Types.MsgType.Event, Content = "{\"key\":\"SYNC\"}" };

        for (var i = 0; i < 10; i++)
            await connection.Incoming.Writer.WriteAsync(sync);

        var first = await NotifyAsync(connection);
        Assert.Equal("{\"code\":429,\"msg\":\"SYNC requests are over budget (2 at once, then one every 100 seconds, on this connection); the frame was dropped\"}", first.Content);
        await NotifyAsync(connection);
        var last = await NotifyAsync(connection);
        Assert.StartsWith("{\"code\":429,\"msg\":\"3 frames over budget within 60 seconds; the last: SYNC requests are over budget", last.Content);
        await running.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(connection.IsClosing);
        // At most the connect-time sync and the two SYNCs within budget were asked for (one may have
        // waited behind another until the close); the eight refused never were.
        Assert.InRange(_gateway.Harness.Published.Select<SyncConversations>().Count(), 1, 3);
    }

    [Fact]
    public async Task A_chat_message_over_budget_gets_its_FAIL_and_a_429_and_the_connection_stays()
    {
        var (connection, _) = await SignedInAsync();
        Msg Chat(uint seq) => new() { Seq = seq, ToUserId = "2002", ClientMsgId = "c-" + seq, Content = "hi" };

        await connection.Incoming.Writer.WriteAsync(Chat(1));
        await connection.Incoming.Writer.WriteAsync(Chat(2));

        var fail = (await connection.NextWrittenAsync()).Msg;
        Assert.Equal((Msg.Types.MsgStatus.Fail, "c-2", 2U, "2002"), (fail.Status, fail.ClientMsgId, fail.Seq, fail.ToUserId));
        Assert.StartsWith("chat messages and TYPING are over budget (1 at once, then 1 per second, on this connection)", fail.Error);
        Assert.Contains("\"code\":429", (await NotifyAsync(connection)).Content);
        Assert.False(connection.IsClosing);
        // Heartbeats have their own budget: the connection is still served.
        await connection.Incoming.Writer.WriteAsync(new Msg { MsgType = Msg.Types.MsgType.Event, Content = "{\"key\":\"KEEP_ALIVE\"}" });
        Assert.Contains("KEEP_ALIVE", (await connection.NextWrittenAsync()).Msg.Content);
    }

    [Fact]
    public async Task A_handshake_past_the_users_cap_is_refused_429_before_any_reply_and_announced_to_no_one()
    {
        var (first, _) = await SignedInAsync();
        var second = new RecordingConnection(_options);
        _gateway.Registry.Opened(second);
        var running = Task.Run(async () =>
        {
            await second.RunAsync(_gateway.Handler);
            await _gateway.Handler.ClosedAsync(second);
        });

        await second.Incoming.Writer.WriteAsync(GatewayServices.Heartbeat());

        var refused = (await second.NextWrittenAsync()).Msg;
        Assert.Equal(Msg.Types.MsgType.Notify, refused.MsgType);
        Assert.StartsWith("{\"code\":429,\"msg\":\"this user already has 1 live connections", refused.Content);
        await running.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([first.Id], _gateway.Registry.OfUser(GatewayServices.UserId).Select(c => c.Id));
        Assert.DoesNotContain(_gateway.Harness.Published.Select<UserConnected>(), p => p.Context.Message.ConnectionId == second.Id);
        Assert.DoesNotContain(_gateway.Harness.Published.Select<UserDisconnected>(), p => p.Context.Message.ConnectionId == second.Id);
    }
}
