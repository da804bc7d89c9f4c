using System.Collections.Concurrent;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway;
using EasyIm.Gateway.Connections;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Gateway;

/// <summary>
/// The gateway runs each sync page by page with messaging (played here by <see cref="Messaging"/>): one
/// sync per connection at a time, the next page asked for only once the client has read the last, and
/// nothing asked for a connection that is gone.
/// </summary>
public sealed class SyncRunnerTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    // A replay budget of 60 messages and (within a test) no refill: the other tests replay fewer.
    private readonly GatewayOptions _options = new()
    {
        SendQueueBytes = 64 * 1024,
        Budgets = { SyncMessagesPerUser = new() { PerSecond = 0.001, Burst = 60 } },
    };
    private readonly Messaging _messaging = new();
    private GatewayServices _gateway = null!;

    /// <summary>Messaging's side: records each page request and answers it with what <see cref="Answer"/> returns, when it returns.</summary>
    private sealed class Messaging
    {
        public ConcurrentQueue<SyncConversations> Asked { get; } = new();
        public Func<SyncConversations, Task<SyncPage>> Answer { get; set; } = ask => Task.FromResult(Done(ask));
    }

    private sealed class MessagingSync(Messaging messaging) : IConsumer<SyncConversations>
    {
        public async Task Consume(ConsumeContext<SyncConversations> context)
        {
            messaging.Asked.Enqueue(context.Message);
            await context.RespondAsync(await messaging.Answer(context.Message));
        }
    }

    public async Task InitializeAsync() => _gateway = await GatewayServices.StartAsync(_options, more: (services, bus) =>
    {
        services.AddSingleton(_messaging);
        bus.AddConsumer<MessagingSync>();
    });

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private const string DoneContent = "{\"code\":200,\"msg\":\"SUCCESS\",\"data\":{\"key\":\"SYNC\",\"done\":true}}";

    private static SyncPage Done(SyncConversations ask) => new(
        [new UserPush(ask.UserId, new WireMessage { MsgType = 4, ToUserId = ask.UserId, Content = DoneContent }, OnlyConnectionId: ask.ConnectionId, Sync: true,
            SyncedThrough: new Dictionary<string, ulong>())], null);

    private static UserPush Stored(SyncConversations ask, ulong seq, int chars) => new(ask.UserId, new WireMessage
    {
        Id = (long)seq, FromUserId = 2002, ToUserId = ask.UserId, Status = 1, Content = new string('m', chars), ClientMsgId = "c-" + seq,
        ConversationId = "s_1001_2002", ConversationSeq = seq, SentAt = 1,
    }, OnlyConnectionId: ask.ConnectionId, Sync: true);

    private async Task<RecordingConnection> SignedInAsync()
    {
        var connection = new RecordingConnection(_options);
        _gateway.Registry.Opened(connection);
        _ = connection.RunAsync(_gateway.Handler);
        await connection.Incoming.Writer.WriteAsync(GatewayServices.Heartbeat());
        Assert.Contains("KEEP_ALIVE", (await connection.NextWrittenAsync()).Msg.Content);
        return connection;
    }

    private static async Task<Msg> NextAsync(RecordingConnection connection, Func<Msg, bool> match)
    {
        while (true)
        {
            var msg = (await connection.NextWrittenAsync()).Msg;
            if (match(msg))
                return msg;
        }
    }

    private static bool IsDone(Msg msg) => msg.MsgType == Msg.Types.MsgType.Event && msg.Content == DoneContent;

    private static Msg Sync(string? conversations = null) => new()
    {
        MsgType = Msg.Types.MsgType.Event,
        Content = conversations is null ? "{\"key\":\"SYNC\"}" : $"{{\"key\":\"SYNC\",\"conversations\":{conversations}}}",
    };

    /// <summary>Waits (bounded) for a condition the runner reaches on its own.</summary>
    private static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(10);
        }
    }

    private static bool Idle(LongConnection connection)
    {
        lock (connection.Syncs.Lock)
            return !connection.Syncs.Running;
    }

    [Fact]
    public async Task The_connect_time_sync_is_asked_for_by_the_gateway_and_messaging_is_told_not_to_push_one()
    {
        var connection = await SignedInAsync();

        await NextAsync(connection, IsDone);
        var asked = Assert.Single(_messaging.Asked);
        Assert.Equal((GatewayServices.UserId, connection.Id, null, null), (asked.UserId, asked.ConnectionId, asked.Cursors, asked.Resume));
        Assert.True(_gateway.Harness.Published.Select<UserConnected>().Single().Context.Message.SyncedByGateway);
    }

    [Fact]
    public async Task A_SYNC_while_one_runs_waits_and_of_several_only_the_latest_runs_after_it()
    {
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _messaging.Answer = async ask =>
        {
            await held.Task;
            return Done(ask);
        };
        var connection = await SignedInAsync();
        await EventuallyAsync(() => _messaging.Asked.Count == 1, "the connect-time sync was not asked for");

        await connection.Incoming.Writer.WriteAsync(Sync("{\"s_1001_2002\":1}"));
        await connection.Incoming.Writer.WriteAsync(Sync("{\"s_1001_2002\":2}"));
        await connection.Incoming.Writer.WriteAsync(Sync("{\"s_1001_2002\":3}"));
        // The connection read them all (a heartbeat after them is answered), and asked messaging for none.
        await connection.Incoming.Writer.WriteAsync(GatewayServices.Heartbeat());
        await NextAsync(connection, m => m.Content.Contains("KEEP_ALIVE"));
        Assert.Single(_messaging.Asked);

        held.SetResult();
        await NextAsync(connection, IsDone);
        await NextAsync(connection, IsDone);
        await EventuallyAsync(() => Idle(connection), "the syncs did not end");

        Assert.Equal([null, new Dictionary<string, ulong> { ["s_1001_2002"] = 3 }], _messaging.Asked.Select(a => a.Cursors));
    }

    [Fact]
    public async Task A_long_sync_is_written_no_faster_than_the_client_reads_and_the_next_page_waits_for_it()
    {
        // Five pages of ten 10 KB messages: 500 KB, where the connection may queue 64 KiB.
        _messaging.Answer = ask =>
        {
            var from = ask.Resume?.AfterSeq ?? 0;
            if (from == 50)
                return Task.FromResult(Done(ask));
            var page = Enumerable.Range(1, 10).Select(i => Stored(ask, from + (ulong)i, 10_000)).ToList();
            return Task.FromResult(new SyncPage(page, new SyncResume("s_1001_2002", from + 10)));
        };
        var reads = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var connection = new RecordingConnection(_options) { Reads = reads };
        _gateway.Registry.Opened(connection);
        _ = connection.RunAsync(_gateway.Handler);
        await connection.Incoming.Writer.WriteAsync(GatewayServices.Heartbeat());

        // The client reads nothing: the sync stops at half the queue's bytes, within its first page.
        await EventuallyAsync(() => connection.Queued.Bytes >= _options.SendQueueBytes / 2, "the sync did not fill half the queue");
        Assert.Single(_messaging.Asked);
        Assert.InRange(connection.Queued.Bytes, _options.SendQueueBytes / 2, _options.SendQueueBytes);
        Assert.False(connection.IsClosing);

        reads.SetResult();
        var seqs = new List<ulong>();
        while (true)
        {
            var msg = (await connection.NextWrittenAsync()).Msg;
            if (IsDone(msg))
                break;
            if (msg.MsgType == Msg.Types.MsgType.Text)
                seqs.Add(msg.ConversationSeq);
        }

        Assert.Equal(Enumerable.Range(1, 50).Select(i => (ulong)i), seqs);
        Assert.Equal([null, 10UL, 20UL, 30UL, 40UL, 50UL], _messaging.Asked.Select(a => a.Resume?.AfterSeq));
    }

    [Fact]
    public async Task A_sync_asks_for_nothing_more_once_its_connection_is_gone()
    {
        _messaging.Answer = ask =>
        {
            var from = ask.Resume?.AfterSeq ?? 0;
            var page = Enumerable.Range(1, 10).Select(i => Stored(ask, from + (ulong)i, 10_000)).ToList();
            return Task.FromResult(new SyncPage(page, new SyncResume("s_1001_2002", from + 10)));
        };
        var connection = new RecordingConnection(_options) { Reads = new TaskCompletionSource() };
        _gateway.Registry.Opened(connection);
        var running = connection.RunAsync(_gateway.Handler);
        await connection.Incoming.Writer.WriteAsync(GatewayServices.Heartbeat());
        await EventuallyAsync(() => connection.Queued.Bytes >= _options.SendQueueBytes / 2, "the sync did not fill half the queue");

        connection.Close("the client went away");
        await running.WaitAsync(Wait);
        await EventuallyAsync(() => Idle(connection), "the sync still ran for a closed connection");

        Assert.Single(_messaging.Asked);
    }

    /// <summary>The user's history never ends: pages of <paramref name="size"/>, each with a page after it; other users have none.</summary>
    private void EndlessHistory(int size) => _messaging.Answer = ask =>
    {
        if (ask.UserId != GatewayServices.UserId)
            return Task.FromResult(Done(ask));
        var from = ask.Resume?.AfterSeq ?? 0;
        var page = Enumerable.Range(1, size).Select(i => Stored(ask, from + (ulong)i, 10)).ToList();
        return Task.FromResult(new SyncPage(page, new SyncResume("s_1001_2002", from + (ulong)size)));
    };

    private int AskedOfUser => _messaging.Asked.Count(a => a.UserId == GatewayServices.UserId);

    /// <summary>Another user signs in and their connect-time sync runs to its end.</summary>
    private async Task OtherUserSyncsAsync()
    {
        var other = new RecordingConnection(_options);
        _gateway.Registry.Opened(other);
        _ = other.RunAsync(_gateway.Handler);
        await other.Incoming.Writer.WriteAsync(new Msg
        {
            MsgType = Msg.Types.MsgType.Event,
            FromUserId = GatewayServices.OtherUserId.ToString(),
            AccessToken = GatewayServices.OtherUserToken,
            Content = "{\"key\":\"KEEP_ALIVE\"}",
        });
        await NextAsync(other, IsDone);
    }

    [Fact]
    public async Task A_users_syncs_past_the_replay_budget_wait_before_their_next_page_while_another_users_sync_runs()
    {
        EndlessHistory(10);
        var greedy = await SignedInAsync();
        // Sixty messages of budget: six pages of ten, then the seventh waits.
        await EventuallyAsync(() => AskedOfUser == 6, "the user's sync did not run to its budget");

        await OtherUserSyncsAsync();

        // The other user's whole sync ran; the first is still held at its budget, its connection open.
        Assert.Equal(6, AskedOfUser);
        Assert.False(Idle(greedy));
        Assert.False(greedy.IsClosing);

        greedy.Close("the client went away");
        await EventuallyAsync(() => Idle(greedy), "a sync waiting for its budget outlived its connection");
        Assert.Equal(6, AskedOfUser);
    }

    [Fact]
    public async Task Reconnecting_does_not_skip_paying_for_a_page_already_written()
    {
        // Pages of 25 against a budget of 60: the third page is written and cannot be paid for.
        EndlessHistory(25);
        var first = await SignedInAsync();
        await EventuallyAsync(() => AskedOfUser == 3, "the user's sync did not run to its budget");
        first.Close("the client reconnects");

        var second = await SignedInAsync();
        await OtherUserSyncsAsync();

        // The new connection's sync waits behind the unpaid page: messaging is not asked again.
        Assert.Equal(3, AskedOfUser);
        Assert.False(Idle(second));
    }
}
