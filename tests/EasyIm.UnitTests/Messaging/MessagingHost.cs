using EasyIm.Hosting.Presence;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Delivery;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace EasyIm.UnitTests.Messaging;

/// <summary>
/// The messaging service in process: its real consumers on MassTransit's in-memory test harness, its
/// real database in a SQLite file in a temporary directory, and two fake gateways (endpoints
/// <c>gateway-g1</c> and <c>gateway-g2</c>, as the real ones are named) that record every push they get,
/// sent to them or published to all. The router's clock is fake, so tests decide when presence is warm.
/// </summary>
internal sealed class MessagingHost : IAsyncDisposable
{
    public const string G1 = "g1";
    public const string G2 = "g2";
    private static long _nextUserId = 1000;

    private readonly IHost _host;
    private readonly string _directory;

    private MessagingHost(IHost host, string directory, PushLog pushes, FakeTimeProvider routerTime)
    {
        _host = host;
        _directory = directory;
        Pushes = pushes;
        RouterTime = routerTime;
        Harness = host.Services.GetRequiredService<ITestHarness>();
    }

    public ITestHarness Harness { get; }
    /// <summary>The temporary directory of this host's SQLite files (a name no other test's connections carry).</summary>
    public string DataDirectory => _directory;
    public PushLog Pushes { get; }
    public FakeTimeProvider RouterTime { get; }
    public IServiceProvider Services => _host.Services;
    public DeliveryRouter Router => Services.GetRequiredService<DeliveryRouter>();

    /// <summary>A user id no other test uses.</summary>
    public static long NewUserId() => Interlocked.Increment(ref _nextUserId);

    public static async Task<MessagingHost> StartAsync(
        IDictionary<string, string?>? settings = null,
        Action<IBusRegistrationConfigurator>? configureBus = null,
        Func<ConsumeContext, Task>? beforePresence = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "easyim-msg-test-" + Guid.NewGuid().ToString("N"));
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, EnvironmentName = "Test" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["EasyIm:DataDirectory"] = directory,
            ["Ids:NodeId"] = "1",
            // Nothing answers CheckRelationships here unless a test adds a responder: fail fast.
            ["Messaging:RelationshipCheckTimeoutMs"] = "300",
        });
        if (settings is not null)
            builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddMessaging();

        var routerTime = new FakeTimeProvider(DateTimeOffset.UtcNow);
        builder.Services.AddSingleton(sp => new DeliveryRouter(
            sp.GetRequiredService<MessagingOptions>(),
            new PresenceTable(sp.GetRequiredService<PresenceOptions>(), routerTime, sp.GetRequiredService<ILogger<PresenceTable>>()),
            routerTime, sp.GetRequiredService<ILogger<DeliveryRouter>>()));

        var pushes = new PushLog();
        builder.Services.AddMassTransitTestHarness(bus =>
        {
            MessagingModule.AddMessagingConsumers(bus);
            configureBus?.Invoke(bus);
            bus.AddConfigureEndpointsCallback((name, endpoint) =>
            {
                // Lets a test hold presence events back, as a lagging replica would.
                if (beforePresence is not null && name.Contains("presence", StringComparison.OrdinalIgnoreCase))
                    endpoint.UseExecuteAsync(beforePresence);
            });
            bus.UsingInMemory((context, cfg) =>
            {
                foreach (var gateway in new[] { G1, G2 })
                {
                    cfg.ReceiveEndpoint($"gateway-{gateway}", e => e.Handler<PushToUsers>(async c =>
                    {
                        if (pushes.Observer is { } observe)
                            await observe(gateway, c.Message);
                        pushes.Add(gateway, c.Message);
                    }));
                }
                MessagingModule.ConfigureMessagingEndpoints(context, cfg);
                cfg.ConfigureEndpoints(context);
            });
        });

        var host = builder.Build();
        var started = new MessagingHost(host, directory, pushes, routerTime);
        host.Services.GetRequiredService<IBusControl>().ConnectConsumeObserver(started.Consumed);
        await host.StartAsync();
        // Long enough for a first message on a busy machine (JIT, the first database open); waits end as soon as their message is seen.
        started.Harness.TestInactivityTimeout = TimeSpan.FromSeconds(2);
        return started;
    }

    public async Task<T> DbAsync<T>(Func<MessagingDbContext, Task<T>> query)
    {
        await using var scope = Services.CreateAsyncScope();
        return await query(scope.ServiceProvider.GetRequiredService<MessagingDbContext>());
    }

    public async Task DbAsync(Func<MessagingDbContext, Task> change)
    {
        await using var scope = Services.CreateAsyncScope();
        await change(scope.ServiceProvider.GetRequiredService<MessagingDbContext>());
    }

    public async Task PublishAndWaitAsync<T>(T message) where T : class
    {
        await Harness.Bus.Publish(message);
        await WaitConsumedAsync<T>(m => ReferenceEquals(m, message) || Equals(m, message));
    }

    /// <summary>
    /// Waits until a consumer has finished with a <typeparamref name="T"/> matching the filter. Not the
    /// harness's own waits: once the bus has been idle for its inactivity timeout (a slow first database
    /// open is enough), those stop waiting at all.
    /// </summary>
    public Task WaitConsumedAsync<T>(Func<T, bool>? filter = null) where T : class => Consumed.WaitAsync(filter);

    public ConsumedLog Consumed { get; } = new();

    /// <summary>Both fake gateways beat (listing their users), then the router's clock passes the warm-up.</summary>
    public async Task WarmAsync(long[] onG1, long[] onG2)
    {
        var beats = new[] { new GatewayHeartbeat(G1, onG1, DateTimeOffset.UtcNow), new GatewayHeartbeat(G2, onG2, DateTimeOffset.UtcNow) };
        foreach (var beat in beats)
        {
            await Harness.Bus.Publish(beat);
            await WaitConsumedAsync<GatewayHeartbeat>(m => m.GatewayId == beat.GatewayId);
        }
        RouterTime.Advance(TimeSpan.FromSeconds(7));
        Assert.False(Router.WarmingUp);
    }

    public Task BefriendAsync(long a, long b) => PublishAndWaitAsync(new FriendshipCreated(a, b, DateTimeOffset.UtcNow));

    public Task JoinGroupAsync(long groupId, long userId, string role = "member") =>
        PublishAndWaitAsync(new GroupMemberAdded(groupId, userId, role, DateTimeOffset.UtcNow));

    public static ChatSubmission Chat(long sender, long to, string clientMsgId, string content = "hi", int chatType = 0, int msgType = 0,
        uint seq = 0, string? connection = null) =>
        new(sender, connection ?? $"c{sender}", new WireMessage
        {
            FromUserId = sender,
            ToUserId = to,
            ChatType = chatType,
            MsgType = msgType,
            Content = content,
            ClientMsgId = clientMsgId,
            Seq = seq,
        });

    public Task SubmitAsync(params ChatSubmission[] messages) => SubmitFromAsync(G1, messages);

    /// <summary>Sends a chat batch as a gateway does: to the gateway's partition.</summary>
    public async Task SubmitFromAsync(string gateway, params ChatSubmission[] messages)
    {
        var endpoint = await Harness.Bus.GetSendEndpoint(ChatPartitions.Address(ChatPartitions.Of(gateway)));
        await endpoint.Send(new SubmitChatMessages(gateway, messages));
    }

    /// <summary>Waits for the ack or FAIL of each client_msg_id, at the sender's connection.</summary>
    public async Task<IReadOnlyList<WireMessage>> AnswersAsync(long sender, params string[] clientMsgIds)
    {
        var wanted = clientMsgIds.ToHashSet();
        var seen = await Pushes.WaitForAsync(all => wanted.IsSubsetOf(Answers(all, sender).Select(m => m.ClientMsgId!)));
        var answers = Answers(seen, sender).ToList();
        return clientMsgIds.Select(id => answers.Last(m => m.ClientMsgId == id)).ToList();
    }

    private static IEnumerable<WireMessage> Answers(IReadOnlyList<ReceivedPush> all, long sender) =>
        all.Where(p => p.Push.UserId == sender && p.Push.OnlyConnectionId == $"c{sender}" && p.Push.Message.MsgType is >= 0 and <= 3
                && p.Push.Message.ClientMsgId is not null)
            .Select(p => p.Push.Message);

    /// <summary>No consumer failed: every message type messaging consumes, checked for its Fault.</summary>
    public void AssertNoFaults()
    {
        Assert.False(Harness.Published.Select<Fault<SubmitChatMessages>>().Any(), "SubmitChatMessages faulted");
        Assert.False(Harness.Published.Select<Fault<RecordReceipts>>().Any(), "RecordReceipts faulted");
        Assert.False(Harness.Published.Select<Fault<SyncConversations>>().Any(), "SyncConversations faulted");
        Assert.False(Harness.Published.Select<Fault<RelayTyping>>().Any(), "RelayTyping faulted");
        Assert.False(Harness.Published.Select<Fault<UserConnected>>().Any(), "UserConnected faulted");
        Assert.False(Harness.Published.Select<Fault<UserDisconnected>>().Any(), "UserDisconnected faulted");
        Assert.False(Harness.Published.Select<Fault<GatewayHeartbeat>>().Any(), "GatewayHeartbeat faulted");
        Assert.False(Harness.Published.Select<Fault<FriendshipCreated>>().Any(), "FriendshipCreated faulted");
        Assert.False(Harness.Published.Select<Fault<FriendshipRemoved>>().Any(), "FriendshipRemoved faulted");
        Assert.False(Harness.Published.Select<Fault<GroupMemberAdded>>().Any(), "GroupMemberAdded faulted");
        Assert.False(Harness.Published.Select<Fault<GroupMemberRemoved>>().Any(), "GroupMemberRemoved faulted");
        Assert.False(Harness.Published.Select<Fault<GetHistory>>().Any(), "GetHistory faulted");
        Assert.False(Harness.Published.Select<Fault<ListConversations>>().Any(), "ListConversations faulted");
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }
}

public sealed record ReceivedPush(long Order, string Gateway, UserPush Push);

/// <summary>What the fake gateways received, in order, with a wait for a condition over it.</summary>
internal sealed class PushLog
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);
    private readonly List<ReceivedPush> _received = [];
    private readonly SemaphoreSlim _changed = new(0);
    private long _order;

    /// <summary>Runs on each <see cref="PushToUsers"/> as a gateway receives it, before it is recorded.</summary>
    public Func<string, PushToUsers, Task>? Observer { get; set; }

    /// <summary>Bus messages received, per gateway.</summary>
    public int MessageCount(string gateway)
    {
        lock (_received)
            return _messages.GetValueOrDefault(gateway);
    }

    private readonly Dictionary<string, int> _messages = [];

    /// <summary>
    /// Records a bus message's pushes as a gateway carries them out: a push for several users as one push
    /// per user, and a sender's ack push as the ack for its connection (the client's seq echoed) and the
    /// copy for the sender's other connections.
    /// </summary>
    public void Add(string gateway, PushToUsers message)
    {
        lock (_received)
        {
            _messages[gateway] = _messages.GetValueOrDefault(gateway) + 1;
            foreach (var push in message.Pushes)
            {
                var index = 0;
                foreach (var userId in (push.AlsoUserIds ?? []).Prepend(push.UserId))
                {
                    // Connection-specific fields name a connection of the push's own user; each user keeps their own stream position.
                    IReadOnlyList<long>? position = push.Positions is { } positions ? [positions[index]] : null;
                    index++;
                    var single = userId == push.UserId
                        ? push with { AlsoUserIds = null, Positions = position }
                        : push with { UserId = userId, AlsoUserIds = null, SkipConnectionId = null, AckConnectionId = null, AckSeq = 0, Positions = position };
                    if (single.AckConnectionId is { } acked)
                    {
                        _received.Add(new ReceivedPush(++_order, gateway, single with
                        {
                            Message = push.Message with { Seq = push.AckSeq },
                            OnlyConnectionId = acked,
                            AckConnectionId = null,
                            AckSeq = 0,
                        }));
                        single = single with { SkipConnectionId = acked, AckConnectionId = null, AckSeq = 0 };
                    }
                    _received.Add(new ReceivedPush(++_order, gateway, single));
                }
            }
        }
        _changed.Release();
    }

    public IReadOnlyList<ReceivedPush> Snapshot()
    {
        lock (_received)
            return [.. _received];
    }

    /// <summary>A counter that orders test actions against receptions.</summary>
    public long Mark()
    {
        lock (_received)
            return _order;
    }

    public async Task<IReadOnlyList<ReceivedPush>> WaitForAsync(Func<IReadOnlyList<ReceivedPush>, bool> condition, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? DefaultTimeout);
        while (true)
        {
            var snapshot = Snapshot();
            if (condition(snapshot))
                return snapshot;
            try
            {
                await _changed.WaitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"Timed out waiting for pushes; {snapshot.Count} received so far");
            }
        }
    }
}

/// <summary>Every message a consumer finished with, in order, with a wait for one.</summary>
internal sealed class ConsumedLog : IConsumeObserver
{
    private readonly List<object> _consumed = [];
    private readonly SemaphoreSlim _changed = new(0);

    public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context) where T : class
    {
        lock (_consumed)
            _consumed.Add(context.Message);
        _changed.Release();
        return Task.CompletedTask;
    }

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;

    public int Count<T>() where T : class
    {
        lock (_consumed)
            return _consumed.OfType<T>().Count();
    }

    public async Task WaitAsync<T>(Func<T, bool>? filter) where T : class
    {
        using var cancel = new CancellationTokenSource(PushLog.DefaultTimeout);
        while (true)
        {
            lock (_consumed)
            {
                if (_consumed.OfType<T>().Any(m => filter is null || filter(m)))
                    return;
            }
            try
            {
                await _changed.WaitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"{typeof(T).Name} was not consumed within {PushLog.DefaultTimeout.TotalSeconds} s");
            }
        }
    }
}
