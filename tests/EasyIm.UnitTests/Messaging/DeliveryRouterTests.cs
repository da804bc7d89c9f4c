using EasyIm.Hosting.Presence;
using EasyIm.Contracts.Gateway;
using EasyIm.Messaging;
using EasyIm.Messaging.Delivery;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EasyIm.UnitTests.Messaging;

public sealed class DeliveryRouterTests
{
    private const long U = 1, V = 2, W = 3;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly MessagingOptions _options = new();

    private readonly PresenceOptions _presence = new();

    private DeliveryRouter NewRouter() => new(_options, new PresenceTable(_presence, _time, NullLogger<PresenceTable>.Instance), _time, NullLogger<DeliveryRouter>.Instance);

    private static UserPush Chat(long user, long seq, string conversation = "s_1_2") =>
        new(user, new WireMessage { Id = 100 + seq, ConversationId = conversation, ConversationSeq = (ulong)seq, Status = 1, Content = "x" });

    private GatewayHeartbeat Beat(string gateway, params long[] users) => new(gateway, users, _time.GetUtcNow());

    private UserConnected Connect(long user, string gateway, string connection) => new(user, gateway, connection, null, _time.GetUtcNow());

    /// <summary>A router that has heard both gateways for a full heartbeat period.</summary>
    private DeliveryRouter Warm()
    {
        var router = NewRouter();
        router.Heartbeat(Beat("g1"));
        router.Heartbeat(Beat("g2"));
        _time.Advance(TimeSpan.FromSeconds(_presence.HeartbeatSeconds + 1.5));
        router.Heartbeat(Beat("g1"));
        router.Heartbeat(Beat("g2"));
        Assert.False(router.WarmingUp);
        return router;
    }

    [Fact]
    public void Until_a_full_heartbeat_period_has_been_heard_every_push_is_published()
    {
        var router = NewRouter();
        Assert.Single(router.Plan([new OutgoingPush(Chat(U, 1))]).Broadcast);

        router.Heartbeat(Beat("g1", U));
        _time.Advance(TimeSpan.FromSeconds(_presence.HeartbeatSeconds - 0.5));
        router.Heartbeat(Beat("g1", U));
        var early = router.Plan([new OutgoingPush(Chat(U, 2))]);
        _time.Advance(TimeSpan.FromSeconds(2));
        var warm = router.Plan([new OutgoingPush(Chat(U, 3))]);

        Assert.Single(early.Broadcast);
        Assert.Empty(early.ByGateway);
        Assert.Empty(warm.Broadcast);
        Assert.Equal(["g1"], warm.ByGateway.Keys);
    }

    [Fact]
    public void A_push_goes_only_to_the_gateways_where_its_user_has_connections()
    {
        var router = Warm();
        router.Connected(Connect(U, "g1", "u1"));
        router.Connected(Connect(V, "g1", "v1"));
        router.Connected(Connect(V, "g2", "v2"));

        var plan = router.Plan([new OutgoingPush(Chat(U, 1)), new OutgoingPush(Chat(V, 1))]);

        Assert.Empty(plan.Broadcast);
        Assert.Equal([U, V], plan.ByGateway["g1"].Select(p => p.UserId));
        Assert.Equal([V], plan.ByGateway["g2"].Select(p => p.UserId));
        Assert.Equal(0, plan.Dropped);
    }

    [Fact]
    public void A_user_with_no_live_connection_gets_nothing_pushed()
    {
        var router = Warm();
        router.Connected(Connect(U, "g1", "u1"));

        var plan = router.Plan([new OutgoingPush(Chat(W, 1))]);

        Assert.Empty(plan.Broadcast);
        Assert.Empty(plan.ByGateway);
        Assert.Equal(1, plan.Dropped);
    }

    [Fact]
    public void A_push_for_one_connection_goes_to_its_known_gateway_else_wherever_the_user_is_else_everywhere()
    {
        var router = Warm();
        router.Connected(Connect(U, "g2", "u2"));
        var known = new UserPush(U, new WireMessage(), OnlyConnectionId: "u1");
        var unknownGateway = new UserPush(U, new WireMessage(), OnlyConnectionId: "u2");
        var unknownUser = new UserPush(W, new WireMessage(), OnlyConnectionId: "w1");

        var plan = router.Plan([new OutgoingPush(known, "g1"), new OutgoingPush(unknownGateway), new OutgoingPush(unknownUser)]);

        Assert.Equal([known], plan.ByGateway["g1"]);
        Assert.Equal([unknownGateway], plan.ByGateway["g2"]);
        // Presence may lag behind a connection that has already spoken: publishing still reaches it.
        Assert.Equal([unknownUser], plan.Broadcast);
    }

    [Fact]
    public void The_last_disconnect_takes_the_user_off_the_gateway()
    {
        var router = Warm();
        router.Connected(Connect(U, "g1", "a"));
        router.Connected(Connect(U, "g1", "b"));

        router.Disconnected(new UserDisconnected(U, "g1", "a", _time.GetUtcNow()));
        var stillThere = router.GatewaysOf(U);
        router.Disconnected(new UserDisconnected(U, "g1", "b", _time.GetUtcNow()));

        Assert.Equal(["g1"], stillThere);
        Assert.Empty(router.GatewaysOf(U));
    }

    [Fact]
    public void A_gateway_silent_for_three_heartbeats_is_dropped_with_its_users()
    {
        var router = Warm();
        router.Connected(Connect(U, "g1", "u1"));
        router.Connected(Connect(V, "g2", "v2"));

        for (var beat = 0; beat < _presence.MissedHeartbeats; beat++)
        {
            _time.Advance(TimeSpan.FromSeconds(_presence.HeartbeatSeconds));
            router.Heartbeat(Beat("g2", V));
        }
        var beforeLeaseEnds = router.GatewaysOf(U);
        // Leases run on the gateways' clocks: g1's ends when a beat from g2 stamped past it arrives.
        _time.Advance(TimeSpan.FromSeconds(0.5));
        router.Heartbeat(Beat("g2", V));
        var plan = router.Plan([new OutgoingPush(Chat(U, 1)), new OutgoingPush(Chat(V, 1))]);

        Assert.Equal(["g1"], beforeLeaseEnds);
        Assert.Empty(router.GatewaysOf(U));
        Assert.Equal(["g2"], plan.ByGateway.Keys);
        Assert.Equal(1, plan.Dropped);
        // Told once, for what keeps state per connection to forget the dead gateway's.
        Assert.Equal(["g1"], router.TakeExpiredGateways());
        Assert.Empty(router.TakeExpiredGateways());
    }

    [Fact]
    public void A_heartbeat_sets_its_gateways_users_but_does_not_undo_a_newer_connect()
    {
        var router = Warm();
        var before = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromMilliseconds(10));
        router.Connected(Connect(U, "g1", "u1"));

        // A heartbeat taken before U connected arrives after the connect: U stays.
        router.Heartbeat(new GatewayHeartbeat("g1", [W], before));
        var (uAfterStaleBeat, wAfterStaleBeat) = (router.GatewaysOf(U), router.GatewaysOf(W));
        _time.Advance(TimeSpan.FromSeconds(1));
        router.Heartbeat(Beat("g1", W));

        Assert.Equal(["g1"], uAfterStaleBeat);
        Assert.Equal(["g1"], wAfterStaleBeat);
        Assert.Empty(router.GatewaysOf(U));
        Assert.Equal(["g1"], router.GatewaysOf(W));
    }

    [Fact]
    public void A_connection_learned_late_is_handed_what_was_routed_past_it()
    {
        var router = Warm();
        router.Connected(Connect(U, "g1", "u1"));
        router.Plan([new OutgoingPush(Chat(U, 1))]);   // to g1, where U was
        router.Plan([new OutgoingPush(Chat(V, 2))]);   // V nowhere yet: dropped

        var onSecondGateway = router.Connected(Connect(U, "g2", "u2"));
        var sameGatewayAgain = router.Connected(Connect(U, "g1", "u3"));
        var late = router.Connected(Connect(V, "g1", "v1"));

        var replay = Assert.Single(onSecondGateway);
        Assert.Equal((U, "g2", "u2"), (replay.UserId, replay.GatewayId, replay.ConnectionId));
        Assert.Equal([("s_1_2", 1L)], replay.Messages);
        // Routed to g1 already: a connection there got it, or registered before the sync read it.
        Assert.Empty(sameGatewayAgain);
        Assert.Equal([("s_1_2", 2L)], Assert.Single(late).Messages);
    }

    [Fact]
    public void A_user_a_beat_adds_is_handed_what_was_routed_past_it()
    {
        var router = Warm();
        router.Beat(new GatewayPresenceReported("g1", 1000, 0, _time.GetUtcNow(), _presence.HeartbeatSeconds, Full: true));
        router.Plan([new OutgoingPush(Chat(V, 2))]);   // V nowhere yet: dropped

        // V's connect was lost; the next delta lists V as joined.
        var (replays, ask) = router.Beat(new GatewayPresenceReported("g1", 1000, 1, _time.GetUtcNow(), _presence.HeartbeatSeconds, Joined: [V]));

        Assert.False(ask);
        var replay = Assert.Single(replays);
        Assert.Equal((V, "g1", (string?)null), (replay.UserId, replay.GatewayId, replay.ConnectionId));
        Assert.Equal([("s_1_2", 2L)], replay.Messages);
    }

    [Fact]
    public void A_user_presence_cannot_place_is_published_to_every_gateway_and_the_gateway_is_asked_for_its_list()
    {
        var router = Warm();
        // g3 was running before this replica heard it: its first beat is a delta, so its list is not whole.
        var (_, ask) = router.Beat(new GatewayPresenceReported("g3", 1000, 7, _time.GetUtcNow(), _presence.HeartbeatSeconds, Joined: [W]));

        var plan = router.Plan([new OutgoingPush(Chat(U, 1)), new OutgoingPush(Chat(W, 2)), new OutgoingPush(Chat(V, 3) with { AlsoUserIds = [W] })]);

        Assert.True(ask);
        Assert.Equal([U, V], plan.Broadcast.Select(p => p.UserId));
        Assert.Equal(["g3"], plan.ByGateway.Keys);
        Assert.Equal([W, W], plan.ByGateway["g3"].SelectMany(p => (IEnumerable<long>)[p.UserId, .. p.AlsoUserIds ?? []]));
        Assert.Equal(0, plan.Dropped);
    }

    [Fact]
    public void Routes_older_than_the_replay_window_are_forgotten()
    {
        var router = Warm();
        router.Plan([new OutgoingPush(Chat(V, 1))]);
        _time.Advance(TimeSpan.FromSeconds(_options.ReplayWindowSeconds + 1));
        router.Heartbeat(Beat("g1"));

        Assert.Empty(router.Connected(Connect(V, "g1", "v1")));
    }

    [Fact]
    public void The_replay_log_stays_within_its_bound()
    {
        _options.MaxReplayEntries = 10;
        var router = Warm();
        for (var seq = 1; seq <= 25; seq++)
            router.Plan([new OutgoingPush(Chat(V, seq))]);

        var replay = Assert.Single(router.Connected(Connect(V, "g1", "v1")));

        Assert.Equal(Enumerable.Range(16, 10).Select(s => (long)s), replay.Messages.Select(m => m.Seq));
    }

    /// <summary>The pushes the send path makes for one stored one-to-one message from U's connection u1 on g1 to V.</summary>
    private static OutgoingPush[] Stored(WireMessage message) =>
    [
        new(new UserPush(U, message, AckConnectionId: "u1", AckSeq: 7), "g1"),
        new(new UserPush(U, message, SkipConnectionId: "u1"), Except: "g1"),
        new(new UserPush(V, message)),
    ];

    [Fact]
    public void A_message_to_a_peer_on_the_senders_gateway_travels_once_as_the_ack_and_the_peers_copy()
    {
        var router = Warm();
        router.Connected(Connect(U, "g1", "u1"));
        router.Connected(Connect(V, "g1", "v1"));
        var message = Chat(V, 1).Message;

        var plan = router.Plan(Stored(message));

        var push = Assert.Single(Assert.Single(plan.ByGateway).Value);
        Assert.Equal((U, "u1", 7u), (push.UserId, push.AckConnectionId, push.AckSeq));
        Assert.Equal([V], push.AlsoUserIds!);
        Assert.Same(message, push.Message);
        Assert.Empty(plan.Broadcast);
    }

    [Fact]
    public void Nothing_goes_to_the_senders_other_devices_when_it_has_none_on_other_gateways()
    {
        var router = Warm();
        router.Connected(Connect(U, "g1", "u1"));
        router.Connected(Connect(V, "g2", "v2"));

        var plan = router.Plan(Stored(Chat(V, 1).Message));

        Assert.Equal([(U, "u1")], plan.ByGateway["g1"].Select(p => (p.UserId, p.AckConnectionId)));
        Assert.Equal([V], plan.ByGateway["g2"].Select(p => p.UserId));
        Assert.Null(plan.ByGateway["g2"][0].SkipConnectionId);
    }

    [Fact]
    public void The_senders_devices_on_another_gateway_get_the_stored_copy_and_a_late_device_there_gets_it_replayed()
    {
        var router = Warm();
        router.Connected(Connect(U, "g1", "u1"));
        router.Connected(Connect(U, "g2", "u2"));

        var plan = router.Plan(Stored(Chat(V, 1).Message));
        var replays = router.Connected(Connect(U, "g3", "u3"));

        var copy = Assert.Single(plan.ByGateway["g2"]);
        Assert.Equal((U, "u1", (string?)null), (copy.UserId, copy.SkipConnectionId, copy.AckConnectionId));
        // Routed to g1 (as the ack) and g2, not g3: replayed there once U is seen on it.
        Assert.Equal([("s_1_2", 1L)], Assert.Single(replays).Messages);
    }

    [Fact]
    public void A_push_for_many_users_is_split_by_gateway_and_users_with_no_connection_are_counted_dropped()
    {
        var router = Warm();
        router.Connected(Connect(U, "g1", "u1"));
        router.Connected(Connect(V, "g2", "v2"));
        router.Connected(Connect(W, "g1", "w1"));
        var message = Chat(U, 5, "g_9").Message;

        var plan = router.Plan([new OutgoingPush(new UserPush(U, message, AlsoUserIds: [V, W, 4]))]);

        var g1 = Assert.Single(plan.ByGateway["g1"]);
        var g2 = Assert.Single(plan.ByGateway["g2"]);
        Assert.Equal([U, W], g1.AlsoUserIds!.Prepend(g1.UserId));
        Assert.Equal((V, (IReadOnlyList<long>?)null), (g2.UserId, g2.AlsoUserIds));
        Assert.Equal(1, plan.Dropped);
    }

    [Fact]
    public void Pushes_of_different_messages_or_for_one_connection_are_not_folded()
    {
        var router = Warm();
        router.Connected(Connect(U, "g1", "u1"));
        router.Connected(Connect(V, "g1", "v1"));
        var message = Chat(U, 1).Message;
        var fail = new UserPush(U, message, OnlyConnectionId: "u1");

        var plan = router.Plan([new OutgoingPush(fail, "g1"), new OutgoingPush(new UserPush(V, message)), new OutgoingPush(Chat(V, 2))]);

        Assert.Equal(3, plan.ByGateway["g1"].Count);
    }
}
