using EasyIm.Contracts.Gateway;
using EasyIm.Hosting.Presence;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EasyIm.UnitTests.Hosting;

public sealed class PresenceTableTests
{
    private const long U = 1, V = 2, W = 3;
    private const long Epoch1 = 1000, Epoch2 = 2000;
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Start);
    private readonly PresenceOptions _options = new();

    private PresenceTable NewTable() => new(_options, _time, NullLogger<PresenceTable>.Instance);

    private GatewayPresenceReported Full(string gateway, long epoch, long beat, params long[] users) =>
        new(gateway, epoch, beat, _time.GetUtcNow(), _options.HeartbeatSeconds, Full: true, Joined: users);

    private GatewayPresenceReported Delta(string gateway, long epoch, long beat, long[] joined, long[]? left = null) =>
        new(gateway, epoch, beat, _time.GetUtcNow(), _options.HeartbeatSeconds, Joined: joined, Left: left);

    /// <summary>A table past its warm-up that has full lists from g1 and g2 (beat 0 of <see cref="Epoch1"/>).</summary>
    private PresenceTable Warm(long[]? onG1 = null, long[]? onG2 = null)
    {
        var table = NewTable();
        table.Apply(Full("g1", Epoch1, 0, onG1 ?? []));
        table.Apply(Full("g2", Epoch1, 0, onG2 ?? []));
        _time.Advance(TimeSpan.FromSeconds(_options.HeartbeatSeconds + 1.5));
        Assert.False(table.WarmingUp);
        return table;
    }

    /// <summary>The answer and the gateways, as "Present g1 g2" (comparable whole in an assertion).</summary>
    private static string Locate(PresenceTable table, long user)
    {
        var gateways = new List<string>();
        var answer = table.Locate(user, gateways);
        return string.Join(' ', [answer.ToString(), .. gateways.Order(StringComparer.Ordinal)]);
    }

    [Fact]
    public void Until_a_beat_period_has_been_heard_nobody_is_offline()
    {
        var table = NewTable();
        Assert.Equal("WarmingUp", Locate(table, U));
        table.Apply(Full("g1", Epoch1, 0, U));

        Assert.Equal("WarmingUp", Locate(table, V));
        _time.Advance(TimeSpan.FromSeconds(_options.HeartbeatSeconds + 1.5));
        Assert.Equal("Present g1", Locate(table, U));
        Assert.Equal("Offline", Locate(table, V));
    }

    [Fact]
    public void Deltas_add_and_remove_users_on_top_of_the_full_list()
    {
        var table = Warm(onG1: [U, V]);
        var arrived = new List<long>();

        table.Apply(Delta("g1", Epoch1, 1, joined: [W], left: [U]), (user, _, _, _) => arrived.Add(user));

        Assert.Equal("Offline", Locate(table, U));
        Assert.Equal("Present g1", Locate(table, V));
        Assert.Equal("Present g1", Locate(table, W));
        Assert.Equal([W], arrived);
    }

    [Fact]
    public void A_gap_in_the_beats_makes_the_list_untrusted_and_asks_once_until_a_full_list_restores_it()
    {
        var table = Warm(onG1: [U]);

        var gap = table.Apply(Delta("g1", Epoch1, 3, joined: [V]));
        var again = table.Apply(Delta("g1", Epoch1, 4, joined: []));
        // V joined in the beat that came: it is there; W may have joined in a lost one, so W is not "offline".
        var (vDuringGap, wDuringGap) = (Locate(table, V), Locate(table, W));
        table.Apply(Full("g1", Epoch1, 5, U, V, W));

        Assert.True(gap.AskFullList);
        Assert.False(again.AskFullList);
        Assert.Equal("Present g1", vDuringGap);
        Assert.Equal("Unknown", wDuringGap);
        Assert.Equal("Present g1", Locate(table, W));
        Assert.Equal("Offline", Locate(table, 99));
    }

    [Fact]
    public void A_delta_from_a_gateway_never_heard_in_full_asks_for_its_list()
    {
        var table = Warm();

        var first = table.Apply(Delta("g3", 5000, 40, joined: [U]));

        Assert.True(first.AskFullList);
        Assert.Equal("Present g3", Locate(table, U));
        Assert.Equal("Unknown", Locate(table, V));
    }

    [Fact]
    public void A_full_list_removes_the_unlisted_but_not_who_connected_after_it_was_taken()
    {
        var table = Warm(onG1: [U, V]);
        var taken = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromMilliseconds(10));
        table.Connected(new UserConnected(W, "g1", "g1:w", null, _time.GetUtcNow()));

        // The reconcile, taken before W connected, arrives after W's connect: W stays, U (unlisted) goes.
        table.Apply(new GatewayPresenceReported("g1", Epoch1, 12, taken, _options.HeartbeatSeconds, Full: true, Joined: [V]));

        Assert.Equal("Offline", Locate(table, U));
        Assert.Equal("Present g1", Locate(table, V));
        Assert.Equal("Present g1", Locate(table, W));
    }

    [Fact]
    public void A_restarted_gateway_replaces_its_old_list_at_once_and_the_old_process_late_beats_are_ignored()
    {
        var table = Warm(onG1: [U, V]);
        _time.Advance(TimeSpan.FromSeconds(1));

        table.Apply(Full("g1", Epoch2, 0, W));
        var afterRestart = (Locate(table, U), Locate(table, W));
        table.Apply(Delta("g1", Epoch1, 1, joined: [U]));   // the dead process's beat, delivered late

        Assert.Equal(("Offline", "Present g1"), afterRestart);
        Assert.Equal("Offline", Locate(table, U));
    }

    [Fact]
    public void A_restart_seen_only_by_a_delta_drops_the_old_users_and_asks_for_the_new_list()
    {
        var table = Warm(onG1: [U, V]);
        _time.Advance(TimeSpan.FromSeconds(1));

        var applied = table.Apply(Delta("g1", Epoch2, 2, joined: [W]));

        Assert.True(applied.AskFullList);
        Assert.Equal("Unknown", Locate(table, U));
        Assert.Equal("Present g1", Locate(table, W));
    }

    [Fact]
    public void A_gateway_is_expired_by_the_gateways_clock_not_by_when_its_beats_are_processed()
    {
        var table = Warm(onG1: [U], onG2: [V]);
        var lease = TimeSpan.FromSeconds(_options.HeartbeatSeconds * _options.MissedHeartbeats);

        // A backlog: a minute passes with no beat processed, then the first beats after the full lists arrive,
        // stamped when they were sent. Nobody expires: no gateway's beats were seen missing.
        _time.Advance(TimeSpan.FromMinutes(1));
        var period = TimeSpan.FromSeconds(_options.HeartbeatSeconds);
        table.Apply(new GatewayPresenceReported("g1", Epoch1, 1, Start + period, _options.HeartbeatSeconds));
        table.Apply(new GatewayPresenceReported("g2", Epoch1, 1, Start + period, _options.HeartbeatSeconds));
        var afterBacklog = Locate(table, V);

        // Then g1 goes on beating and g2 is silent: g2 ends a lease after its last stamp, on g1's clock.
        var g2Last = Start + period;
        var beat = 2L;
        for (var at = period; at <= lease; at += period)
            table.Apply(new GatewayPresenceReported("g1", Epoch1, beat++, g2Last + at, _options.HeartbeatSeconds));
        var atLease = Locate(table, V);
        table.Apply(new GatewayPresenceReported("g1", Epoch1, beat, g2Last + lease + TimeSpan.FromSeconds(1), _options.HeartbeatSeconds));

        Assert.Equal("Present g2", afterBacklog);
        Assert.Equal("Present g2", atLease);
        Assert.Equal("Offline", Locate(table, V));
        Assert.Equal(["g2"], table.TakeExpiredGateways());
        Assert.Empty(table.TakeExpiredGateways());
    }

    [Fact]
    public void A_gateway_clock_ahead_of_ours_cannot_expire_the_others()
    {
        var table = Warm(onG1: [U], onG2: [V]);

        table.Apply(new GatewayPresenceReported("g1", Epoch1, 1, _time.GetUtcNow() + TimeSpan.FromMinutes(5), _options.HeartbeatSeconds));

        Assert.Equal("Present g2", Locate(table, V));
    }

    [Fact]
    public void A_duplicate_beat_changes_nothing()
    {
        var table = Warm(onG1: [U]);
        table.Apply(Delta("g1", Epoch1, 1, joined: [], left: [U]));

        var again = table.Apply(Full("g1", Epoch1, 1, U));

        Assert.False(again.AskFullList);
        Assert.Equal("Offline", Locate(table, U));
    }

    [Fact]
    public void A_disconnect_removes_a_user_known_only_from_connects_but_a_listed_one_waits_for_the_next_beat()
    {
        var table = Warm(onG1: [V]);
        table.Connected(new UserConnected(U, "g1", "g1:u", null, _time.GetUtcNow()));
        table.Connected(new UserConnected(V, "g1", "g1:v", null, _time.GetUtcNow()));

        table.Disconnected(new UserDisconnected(U, "g1", "g1:u", _time.GetUtcNow()));
        table.Disconnected(new UserDisconnected(V, "g1", "g1:v", _time.GetUtcNow()));

        Assert.Equal("Offline", Locate(table, U));
        Assert.Equal("Present g1", Locate(table, V));
    }

    [Fact]
    public void An_older_gateways_heartbeat_is_a_full_list()
    {
        var table = NewTable();
        table.Apply(new GatewayHeartbeat("old", [U], _time.GetUtcNow()));
        _time.Advance(TimeSpan.FromSeconds(_options.HeartbeatSeconds + 1.5));
        table.Apply(new GatewayHeartbeat("old", [V], _time.GetUtcNow()));

        Assert.Equal("Offline", Locate(table, U));
        Assert.Equal("Present old", Locate(table, V));
    }

    [Fact]
    public void A_gateway_that_also_sends_the_older_heartbeat_for_an_upgrade_is_listed_by_its_beats_alone()
    {
        var table = Warm(onG1: [U, V]);
        table.Apply(Delta("g1", Epoch1, 1, joined: [], left: [V]));

        // The older heartbeat, as old services read it, sent beside the beat: its list must not undo the beats'.
        table.Apply(new GatewayHeartbeat("g1", [U, V, W], _time.GetUtcNow()));

        Assert.Equal("Present g1", Locate(table, U));
        Assert.Equal("Offline", Locate(table, V));
        Assert.Equal("Offline", Locate(table, W));
    }
}
