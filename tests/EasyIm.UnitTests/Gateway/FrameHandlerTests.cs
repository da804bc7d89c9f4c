using System.Threading.Channels;
using EasyIm.Contracts;
using EasyIm.Contracts.Auth;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Consumers;
using EasyIm.Gateway.Delivery;
using EasyIm.Gateway.Wire;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace EasyIm.UnitTests.Gateway;

/// <summary>
/// What the gateway sends on the bus for each kind of frame, and what it answers, with auth and
/// friends played by fakes on MassTransit's test harness and a connection without a socket.
/// </summary>
public sealed class FrameHandlerTests : IAsyncLifetime
{
    private const long UserId = 1001;
    private const string GoodToken = "good-token";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly ServiceProvider _services;
    private readonly ITestHarness _harness;
    private readonly GatewayOptions _options = new();
    private readonly HeldTypingRelays _typingRelays = new();

    public FrameHandlerTests()
    {
        var services = new ServiceCollection();
        services.AddSingleton(_options);
        services.AddSingleton(new GatewayIdentity("unit"));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<MessagingOutbound>();
        services.AddSingleton<FrameHandler>();
        services.AddMassTransitTestHarness(bus =>
        {
            bus.AddConsumer<FakeAuth>();
            bus.AddConsumer<FakeFriends>();
            bus.AddConsumer<FakeSync>();
            bus.AddConsumer<UserTokensRevokedConsumer>();
        });
        _services = services.BuildServiceProvider(validateScopes: true);
        _harness = _services.GetTestHarness();
    }

    /// <summary>
    /// Waits (bounded) until a matching message was published. The harness's own Any gives up after
    /// 1.2 s without bus activity, which a loaded machine can pass before the publish happens.
    /// </summary>
    private async Task PublishedAsync<T>(Func<T, bool> match) where T : class
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!_harness.Published.Select<T>().Any(x => match(x.Context.Message)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no {typeof(T).Name} was published within {Wait.TotalSeconds} s");
            await Task.Delay(20);
        }
    }

    public async Task InitializeAsync()
    {
        await _harness.Start();
        _harness.Bus.ConnectPublishObserver(_typingRelays);
    }

    public async Task DisposeAsync()
    {
        _typingRelays.Release();
        await _harness.Stop();
        await _services.DisposeAsync();
    }

    private sealed class FakeAuth : IConsumer<ValidateAccessToken>
    {
        public Task Consume(ConsumeContext<ValidateAccessToken> context) =>
            context.Message.AccessToken == GoodToken && context.Message.UserId == UserId
                ? context.RespondAsync(new AccessTokenValidated(UserId, "alice", 3, DateTimeOffset.UtcNow.AddHours(1)))
                : context.RespondAsync(new RequestRejected(401, "access_token is invalid"));
    }

    private sealed class FakeFriends : IConsumer<SendFriendRequest>, IConsumer<AcceptFriendRequest>
    {
        public Task Consume(ConsumeContext<SendFriendRequest> context) =>
            context.Message.ToUserId == 404
                ? context.RespondAsync(new RequestRejected(404, "no such user", "to_user_id"))
                : context.RespondAsync(new FriendRequestSent(777, context.Message.FromUserId, context.Message.ToUserId));

        public Task Consume(ConsumeContext<AcceptFriendRequest> context) =>
            context.RespondAsync(new FriendRequestAccepted(context.Message.RequestId ?? 778, context.Message.InviterId ?? 5, context.Message.UserId));
    }

    /// <summary>Messaging's side of a sync, with nothing to send: each page request is answered at once with an empty last page.</summary>
    private sealed class FakeSync : IConsumer<SyncConversations>
    {
        public Task Consume(ConsumeContext<SyncConversations> context) => context.RespondAsync(new SyncPage([], null));
    }

    /// <summary>Waits (bounded) until no sync of the connection runs or waits: the next SYNC then runs at once.</summary>
    private static async Task SyncsIdleAsync(LongConnection connection)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            lock (connection.Syncs.Lock)
            {
                if (!connection.Syncs.Running)
                    return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"the connection's sync still ran after {Wait.TotalSeconds} s");
            await Task.Delay(10);
        }
    }

    /// <summary>Holds every RelayTyping publish, once <see cref="Hold"/> was called, until <see cref="Release"/>: a broker that does not confirm.</summary>
    private sealed class HeldTypingRelays : IPublishObserver
    {
        private volatile TaskCompletionSource? _held;
        private int _waiting;

        public int Waiting => Volatile.Read(ref _waiting);

        public void Hold() => _held = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _held?.TrySetResult();

        public async Task PrePublish<T>(PublishContext<T> context) where T : class
        {
            if (context.Message is not RelayTyping || _held is not { } held)
                return;
            Interlocked.Increment(ref _waiting);
            await held.Task;
        }

        public Task PostPublish<T>(PublishContext<T> context) where T : class => Task.CompletedTask;

        public Task PublishFault<T>(PublishContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }

    /// <summary>A connection without a socket: the test feeds its frames and reads what it writes.</summary>
    private sealed class InMemoryConnection(GatewayOptions options)
        : LongConnection("unit:" + Guid.NewGuid().ToString("N")[..8], "memory", options, NullLogger.Instance)
    {
        private readonly CancellationTokenSource _stop = new();
        public Channel<Msg> Incoming { get; } = Channel.CreateUnbounded<Msg>();
        public Channel<Msg> Written { get; } = Channel.CreateUnbounded<Msg>();

        protected override async Task ReadLoopAsync(FrameHandler handler)
        {
            await foreach (var msg in Incoming.Reader.ReadAllAsync(_stop.Token))
                await OnFrameAsync(handler, () => msg);
        }

        protected override async ValueTask<bool> WriteAsync(IReadOnlyList<OutboundFrame> frames)
        {
            foreach (var frame in frames)
                await Written.Writer.WriteAsync(frame.Msg);
            return true;
        }

        protected override ValueTask FinishWritingAsync()
        {
            Written.Writer.TryComplete();
            return ValueTask.CompletedTask;
        }

        protected override void StopReading() => _stop.Cancel();

        protected override void AbortTransport() => _stop.Cancel();

        public async Task<Msg> NextWrittenAsync() => await Written.Reader.ReadAsync().AsTask().WaitAsync(Wait);
    }

    private (InMemoryConnection Connection, Task Running) Open()
    {
        var connection = new InMemoryConnection(_options);
        var handler = _services.GetRequiredService<FrameHandler>();
        _services.GetRequiredService<ConnectionRegistry>().Opened(connection);
        var running = Task.Run(async () =>
        {
            await connection.RunAsync(handler, TimeSpan.FromSeconds(30));
            await handler.ClosedAsync(connection);
        });
        return (connection, running);
    }

    private async Task<(InMemoryConnection Connection, Task Running)> SignedInAsync()
    {
        var (connection, running) = Open();
        await connection.Incoming.Writer.WriteAsync(new Msg
        {
            MsgType = Msg.Types.MsgType.Event,
            FromUserId = UserId.ToString(),
            AccessToken = GoodToken,
            Content = "{\"key\":\"KEEP_ALIVE\",\"device_id\":\"phone\"}",
        });
        var reply = await connection.NextWrittenAsync();
        Assert.Equal("{\"code\":200,\"msg\":\"SUCCESS\",\"data\":{\"key\":\"KEEP_ALIVE\"}}", reply.Content);
        return (connection, running);
    }

    /// <summary>
    /// The items of every published <typeparamref name="T"/>, once there are <paramref name="count"/>
    /// of them: a batch may be split when the 2 ms window closes in between.
    /// </summary>
    private async Task<List<TItem>> PublishedItemsAsync<T, TItem>(int count, Func<T, IEnumerable<TItem>> items) where T : class
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var all = _harness.Published.Select<T>().SelectMany(p => items(p.Context.Message)).ToList();
            if (all.Count >= count || DateTime.UtcNow > deadline)
                return all;
            await Task.Delay(10);
        }
    }

    /// <summary>The same for every sent <typeparamref name="T"/>, with where each was sent.</summary>
    private async Task<List<(Uri? Destination, TItem Item)>> SentItemsAsync<T, TItem>(int count, Func<T, IEnumerable<TItem>> items) where T : class
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var all = _harness.Sent.Select<T>().SelectMany(p => items(p.Context.Message).Select(i => (p.Context.DestinationAddress, i))).ToList();
            if (all.Count >= count || DateTime.UtcNow > deadline)
                return all;
            await Task.Delay(10);
        }
    }

    private static Msg Event(string content, long to = 0) => new()
    {
        MsgType = Msg.Types.MsgType.Event,
        ToUserId = to == 0 ? "" : to.ToString(),
        Content = content,
    };

    [Fact]
    public async Task A_handshake_announces_the_user_connected_and_the_close_announces_the_disconnect()
    {
        var (connection, running) = await SignedInAsync();

        await PublishedAsync<UserConnected>(m => m.UserId == UserId);
        var connected = _harness.Published.Select<UserConnected>().Single().Context.Message;
        Assert.Equal(("unit", connection.Id, "phone"), (connected.GatewayId, connected.ConnectionId, connected.DeviceId));
        Assert.Equal(3, connection.Session!.TokenVersion);

        connection.Incoming.Writer.Complete();
        await running.WaitAsync(Wait);

        await PublishedAsync<UserDisconnected>(m => m.ConnectionId == connection.Id);
        Assert.Empty(_services.GetRequiredService<ConnectionRegistry>().OfUser(UserId));
        Assert.False(await _harness.Published.Any<Fault>());
    }

    [Fact]
    public async Task A_rejected_token_is_answered_notify_401_and_the_connection_ends_without_announcing_anyone()
    {
        var (connection, running) = Open();

        await connection.Incoming.Writer.WriteAsync(new Msg
        {
            MsgType = Msg.Types.MsgType.Event,
            FromUserId = UserId.ToString(),
            AccessToken = "stolen",
            Content = "{\"key\":\"KEEP_ALIVE\"}",
        });

        var notify = await connection.NextWrittenAsync();
        Assert.Equal(Msg.Types.MsgType.Notify, notify.MsgType);
        Assert.Equal("{\"code\":401,\"msg\":\"access_token is invalid\"}", notify.Content);
        await running.WaitAsync(Wait);
        Assert.False(await _harness.Published.Any<UserConnected>());
        Assert.False(await _harness.Published.Any<UserDisconnected>());
    }

    [Fact]
    public async Task Chat_messages_leave_batched_in_order_with_the_connections_user_as_sender()
    {
        var (connection, _) = await SignedInAsync();

        for (uint i = 1; i <= 3; i++)
        {
            await connection.Incoming.Writer.WriteAsync(new Msg
            {
                MsgType = Msg.Types.MsgType.Text,
                ChatType = i == 3 ? Msg.Types.ChatType.Group : Msg.Types.ChatType.Single,
                ToUserId = "2002",
                Seq = i,
                ClientMsgId = "c-" + i,
                Content = "hello " + i,
            });
        }

        var sent = await SentItemsAsync<SubmitChatMessages, ChatSubmission>(3, m => m.Messages);
        var submitted = sent.Select(s => s.Item).ToList();
        Assert.Equal(["c-1", "c-2", "c-3"], submitted.Select(s => s.Message.ClientMsgId));
        // Every batch goes to this gateway's partition, and nothing is published to every consumer.
        var partition = ChatPartitions.QueueName(ChatPartitions.Of("unit"));
        Assert.All(sent, s => Assert.EndsWith("/" + partition, s.Destination!.AbsolutePath));
        Assert.False(_harness.Published.Select<SubmitChatMessages>().Any());
        Assert.All(submitted, s => Assert.Equal((UserId, connection.Id, UserId, 2002L), (s.SenderId, s.ConnectionId, s.Message.FromUserId, s.Message.ToUserId)));
        Assert.Equal([0, 0, 1], submitted.Select(s => s.Message.ChatType));
        Assert.Equal([1U, 2U, 3U], submitted.Select(s => s.Message.Seq));
        Assert.Equal("unit", _harness.Sent.Select<SubmitChatMessages>().First().Context.Message.GatewayId);
    }

    [Fact]
    public async Task Receipts_sync_and_typing_become_their_bus_messages()
    {
        var (connection, _) = await SignedInAsync();
        // The connect-time sync runs first; a SYNC sent while a sync runs would wait for it (SyncRunnerTests).
        await PublishedAsync<SyncConversations>(s => s.ConnectionId == connection.Id);
        await SyncsIdleAsync(connection);

        await connection.Incoming.Writer.WriteAsync(Event("{\"key\":\"ARRIVED\",\"conversation_id\":\"s_1001_2002\",\"seq\":7}"));
        await connection.Incoming.Writer.WriteAsync(Event("{\"key\":\"READ\",\"conversation_id\":\"s_1001_2002\",\"seq\":\"5\"}"));
        await connection.Incoming.Writer.WriteAsync(Event("{\"key\":\"SYNC\",\"conversations\":{\"s_1001_2002\":4,\"g_9\":\"12\"}}"));
        await PublishedAsync<SyncConversations>(s => s.Cursors is not null);
        await SyncsIdleAsync(connection);
        await connection.Incoming.Writer.WriteAsync(Event("{\"key\":\"SYNC\"}"));
        await connection.Incoming.Writer.WriteAsync(new Msg { MsgType = Msg.Types.MsgType.Event, ToUserId = "9", ChatType = Msg.Types.ChatType.Group, Content = "{\"key\":\"TYPING\"}" });

        var receipts = await PublishedItemsAsync<RecordReceipts, Receipt>(2, m => m.Receipts);
        await PublishedAsync<RelayTyping>(_ => true);
        await PublishedItemsAsync<SyncConversations, SyncConversations>(3, m => [m]);
        Assert.Equal([new Receipt(UserId, "s_1001_2002", 7, 2), new Receipt(UserId, "s_1001_2002", 5, 3)], receipts);
        var syncs = _harness.Published.Select<SyncConversations>().Select(s => s.Context.Message).ToList();
        Assert.Equal(3, syncs.Count);
        Assert.Null(syncs[0].Cursors);
        Assert.Equal(new Dictionary<string, ulong> { ["s_1001_2002"] = 4, ["g_9"] = 12 }, syncs[1].Cursors);
        Assert.Null(syncs[2].Cursors);
        Assert.All(syncs, s => Assert.Equal(connection.Id, s.ConnectionId));
        Assert.Equal(new RelayTyping(UserId, connection.Id, 9, 1), _harness.Published.Select<RelayTyping>().Single().Context.Message);
    }

    [Fact]
    public async Task A_typing_flood_is_refused_429_even_when_the_broker_does_not_confirm_the_relays()
    {
        // Were each TYPING to wait for its relay, the connection would read one frame per broker
        // confirm: a slow broker would let any flood through (and then drop the client 408 for silence).
        _typingRelays.Hold();
        var (connection, running) = await SignedInAsync();
        var typing = new Msg { MsgType = Msg.Types.MsgType.Event, ToUserId = "2002", Content = "{\"key\":\"TYPING\"}" };

        // Three bursts at once: over the limit unless handling them took a second or more.
        for (var i = 0; i < 3 * _options.RateLimit.Burst; i++)
            await connection.Incoming.Writer.WriteAsync(typing);

        var notify = await connection.NextWrittenAsync();
        Assert.Equal(Msg.Types.MsgType.Notify, notify.MsgType);
        Assert.StartsWith("{\"code\":429,", notify.Content);
        await running.WaitAsync(Wait);
        // The relays that wait are bounded per connection; the rest of the hints were dropped.
        var deadline = DateTime.UtcNow + Wait;
        while (_typingRelays.Waiting < FrameHandler.MaxTypingInFlight && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.Equal(FrameHandler.MaxTypingInFlight, _typingRelays.Waiting);

        _typingRelays.Release();
        await PublishedAsync<RelayTyping>(_ => true);
        Assert.Equal(FrameHandler.MaxTypingInFlight, _harness.Published.Select<RelayTyping>().Count());
    }

    [Fact]
    public async Task A_friend_invite_asks_friends_and_answers_the_sender_with_the_request_id()
    {
        var (connection, _) = await SignedInAsync();

        await connection.Incoming.Writer.WriteAsync(Event("{\"key\":\"FRIEND_INVITE\",\"msg\":\"hi, it's alice\"}", to: 2002));

        var reply = await connection.NextWrittenAsync();
        Assert.Equal(Msg.Types.MsgType.Event, reply.MsgType);
        Assert.Equal("{\"code\":200,\"msg\":\"SUCCESS\",\"data\":{\"key\":\"FRIEND_INVITE\",\"id\":\"777\"}}", reply.Content);
        var asked = _harness.Consumed.Select<SendFriendRequest>().Single().Context.Message;
        Assert.Equal(new SendFriendRequest(UserId, 2002, "hi, it's alice"), asked);
    }

    [Fact]
    public async Task A_refused_friend_invite_is_answered_with_the_services_code_and_the_connection_stays()
    {
        var (connection, _) = await SignedInAsync();

        await connection.Incoming.Writer.WriteAsync(Event("{\"key\":\"FRIEND_INVITE\"}", to: 404));
        var refused = await connection.NextWrittenAsync();
        await connection.Incoming.Writer.WriteAsync(Event("{\"key\":\"KEEP_ALIVE\"}"));
        var stillServed = await connection.NextWrittenAsync();

        Assert.Equal(Msg.Types.MsgType.Notify, refused.MsgType);
        Assert.Equal("{\"code\":404,\"msg\":\"no such user\"}", refused.Content);
        Assert.Equal("{\"code\":200,\"msg\":\"SUCCESS\",\"data\":{\"key\":\"KEEP_ALIVE\"}}", stillServed.Content);
        Assert.False(connection.IsClosing);
    }

    [Fact]
    public async Task A_friend_agree_names_the_request_or_the_inviter()
    {
        var (connection, _) = await SignedInAsync();

        await connection.Incoming.Writer.WriteAsync(Event("{\"key\":\"FRIEND_AGREE\",\"id\":\"55\"}"));
        var byId = await connection.NextWrittenAsync();
        await connection.Incoming.Writer.WriteAsync(Event("{\"key\":\"FRIEND_AGREE\"}", to: 3003));
        var byInviter = await connection.NextWrittenAsync();

        Assert.Equal("{\"code\":200,\"msg\":\"SUCCESS\",\"data\":{\"key\":\"FRIEND_AGREE\",\"id\":\"55\"}}", byId.Content);
        Assert.Equal("{\"code\":200,\"msg\":\"SUCCESS\",\"data\":{\"key\":\"FRIEND_AGREE\",\"id\":\"778\"}}", byInviter.Content);
        var asked = _harness.Consumed.Select<AcceptFriendRequest>().Select(a => a.Context.Message).ToList();
        Assert.Contains(new AcceptFriendRequest(UserId, 55, null), asked);
        Assert.Contains(new AcceptFriendRequest(UserId, null, 3003), asked);
    }

    [Fact]
    public async Task A_revocation_above_the_sessions_token_version_closes_it_with_notify_401()
    {
        var (connection, running) = await SignedInAsync();

        // The session's token was issued under version 3: revoking the tokens below 3 leaves it alone.
        await _harness.Bus.Publish(new UserTokensRevoked(UserId, 3));
        Assert.True(await _harness.Consumed.Any<UserTokensRevoked>(x => x.Context.Message.TokenVersion == 3));
        await connection.Incoming.Writer.WriteAsync(Event("{\"key\":\"KEEP_ALIVE\"}"));
        Assert.Equal(Msg.Types.MsgType.Event, (await connection.NextWrittenAsync()).MsgType);

        await _harness.Bus.Publish(new UserTokensRevoked(UserId, 4));

        var notify = await connection.NextWrittenAsync();
        Assert.Equal(Msg.Types.MsgType.Notify, notify.MsgType);
        Assert.StartsWith("{\"code\":401,", notify.Content);
        await running.WaitAsync(Wait);
    }

    [Theory]
    [InlineData("{\"key\":\"SYNC\",\"conversations\":{\"s_1001\\u0000_2002\":0}}", "NUL")]
    [InlineData("{\"key\":\"SYNC\",\"conversations\":{\"s_1001\\ud800\":0}}", "surrogate")]
    [InlineData("{\"key\":\"ARRIVED\",\"conversation_id\":\"s_1001_2002\\u0000\",\"seq\":7}", "NUL")]
    [InlineData("{\"key\":\"READ\",\"conversation_id\":\"s_1001_\\udc00\",\"seq\":7}", "surrogate")]
    [InlineData("{\"key\":\"FRIEND_INVITE\",\"msg\":\"hi\\u0000\"}", "NUL")]
    public async Task Text_no_store_accepts_in_an_event_field_is_answered_NOTIFY_400_and_nothing_is_published(string content, string named)
    {
        var (connection, running) = await SignedInAsync();

        await connection.Incoming.Writer.WriteAsync(Event(content, to: 2002));

        var notify = await connection.NextWrittenAsync();
        Assert.Equal(Msg.Types.MsgType.Notify, notify.MsgType);
        Assert.StartsWith("{\"code\":400,", notify.Content);
        Assert.Contains(named, notify.Content, StringComparison.OrdinalIgnoreCase);
        await running.WaitAsync(Wait);
        // Only the connect-time sync (no cursors) was asked for.
        Assert.DoesNotContain(_harness.Published.Select<SyncConversations>(), s => s.Context.Message.Cursors is not null);
        Assert.False(_harness.Published.Select<RecordReceipts>().Any());
        Assert.False(_harness.Sent.Select<SendFriendRequest>().Any());
    }

    [Fact]
    public async Task A_client_msg_id_with_NUL_closes_the_connection_before_it_can_name_a_predecessor()
    {
        var (connection, running) = await SignedInAsync();

        await connection.Incoming.Writer.WriteAsync(new Msg { ToUserId = "2002", Content = "hi", ClientMsgId = "c\u00001" });

        var notify = await connection.NextWrittenAsync();
        Assert.StartsWith("{\"code\":400,", notify.Content);
        Assert.Contains("client_msg_id", notify.Content);
        await running.WaitAsync(Wait);
        Assert.False(_harness.Sent.Select<SubmitChatMessages>().Any());
    }
}
