using EasyIm.Contracts.Gateway;
using EasyIm.Hosting.Presence;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EasyIm.UnitTests.Hosting;

public sealed class GatewayPushesTests
{
    private const long U = 1, V = 2, W = 3, Away = 4;

    private static UserPush Event(long user, params long[] also) =>
        new(user, new WireMessage { MsgType = 4, Content = "e" }, AlsoUserIds: also.Length == 0 ? null : also);

    [Fact]
    public async Task Pushes_go_to_the_gateways_of_their_users_and_only_what_presence_cannot_place_is_published()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new PresenceOptions();
        var presence = new PresenceTable(options, time, NullLogger<PresenceTable>.Instance);
        presence.Apply(new GatewayPresenceReported("g1", 1, 0, time.GetUtcNow(), options.HeartbeatSeconds, Full: true, Joined: [U, V]));
        presence.Apply(new GatewayPresenceReported("g2", 1, 0, time.GetUtcNow(), options.HeartbeatSeconds, Full: true, Joined: [V]));
        time.Advance(TimeSpan.FromSeconds(options.HeartbeatSeconds + 2));
        // g3's first beat heard is a delta: its list is not whole, so a user found nowhere may be there.
        presence.Apply(new GatewayPresenceReported("g3", 1, 5, time.GetUtcNow(), options.HeartbeatSeconds));

        await using var provider = new ServiceCollection().AddMassTransitTestHarness().BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        var pushes = new GatewayPushes(presence, options, harness.Bus, time, NullLogger<GatewayPushes>.Instance);

        await pushes.DeliverAsync(new PushToUsers([Event(U), Event(V, W)]), harness.Bus, CancellationToken.None);

        var sent = harness.Sent.Select<PushToUsers>().Select(m => (To: m.Context.DestinationAddress!.AbsolutePath.Trim('/'), m.Context.Message)).ToList();
        var toG1 = Assert.Single(sent, s => s.To == "gateway-g1").Message;
        var toG2 = Assert.Single(sent, s => s.To == "gateway-g2").Message;
        Assert.Equal([(U, (long[]?)null), (V, null)], toG1.Pushes.Select(p => (p.UserId, p.AlsoUserIds?.ToArray())));
        Assert.Equal([V], toG2.Pushes.Select(p => p.UserId));
        var published = Assert.Single(harness.Published.Select<PushToUsers>()).Context.Message;
        Assert.Equal([W], published.Pushes.Select(p => p.UserId));

        // Once g3 sends its full list, W is offline: nothing is published.
        presence.Apply(new GatewayPresenceReported("g3", 1, 6, time.GetUtcNow(), options.HeartbeatSeconds, Full: true, Joined: [Away]));
        await pushes.DeliverAsync(new PushToUsers([Event(W), Event(Away)]), harness.Bus, CancellationToken.None);
        Assert.Single(harness.Published.Select<PushToUsers>());
        Assert.Single(harness.Sent.Select<PushToUsers>(), m => m.Context.DestinationAddress!.AbsolutePath.Trim('/') == "gateway-g3");
    }

    [Fact]
    public async Task A_push_dropped_after_a_users_connection_began_goes_to_the_gateway_they_appear_on_within_the_lease()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new PresenceOptions();
        var presence = new PresenceTable(options, time, NullLogger<PresenceTable>.Instance);
        presence.Apply(new GatewayPresenceReported("g1", 1, 0, time.GetUtcNow(), options.HeartbeatSeconds, Full: true));
        time.Advance(TimeSpan.FromSeconds(options.HeartbeatSeconds + 2));
        await using var provider = new ServiceCollection().AddMassTransitTestHarness().BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        var pushes = new GatewayPushes(presence, options, harness.Bus, time, NullLogger<GatewayPushes>.Instance);
        List<UserPush> Connect(long user, DateTimeOffset at)
        {
            var late = new List<UserPush>();
            presence.Connected(new UserConnected(user, "g1", $"g1:{user}", null, at), (u, _, _, from) => late.AddRange(pushes.TakeDropped(u, from)));
            return late;
        }

        // U's and V's connections began, their connects are on their way: the events look offline, and are kept.
        var began = time.GetUtcNow();
        time.Advance(TimeSpan.FromMilliseconds(50));
        await pushes.DeliverAsync(new PushToUsers([Event(U), Event(V), Event(W)]), harness.Bus, CancellationToken.None);
        time.Advance(TimeSpan.FromMilliseconds(50));
        var forU = Connect(U, began);
        // W's connection began after the event: it is in W's connect-time sync, not sent again.
        var forW = Connect(W, time.GetUtcNow());
        // V's connect is applied only after the lease: what was kept for V is gone.
        time.Advance(TimeSpan.FromSeconds(options.HeartbeatSeconds * options.MissedHeartbeats + 1));
        var forV = Connect(V, began);

        Assert.Empty(harness.Published.Select<PushToUsers>());
        Assert.Equal([U], forU.Select(p => p.UserId));
        Assert.Empty(forW);
        Assert.Empty(forV);
    }
}
