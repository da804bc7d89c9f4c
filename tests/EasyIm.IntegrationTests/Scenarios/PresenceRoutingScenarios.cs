using System.Threading.Channels;
using EasyIm.Client;
using EasyIm.Contracts.Gateway;
using EasyIm.Hosting.Presence;
using EasyIm.IntegrationTests.Shapes;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>
/// Friends' pushes routed by presence: to the gateway that holds each user (sent to its own endpoint), never
/// published to every gateway while presence knows where everyone is; and a gateway that restarts (a new epoch)
/// has its new list replace the old one at once. A fake gateway on the shape's bus beats as a real one does and
/// records what is sent to it; a spy bound as every gateway is records what is published to all.
/// </summary>
public abstract class PresenceRoutingScenarios(EasyImShape shape)
{
    private IBus Bus => shape.GatewayServices.GetRequiredService<IBus>();
    private PresenceTable FriendsPresence => shape.ServicesWith<PresenceTable>().GetRequiredService<PresenceTable>();

    [SkippableFact]
    public async Task A_friend_event_goes_to_the_gateway_that_holds_each_user_and_is_published_to_none()
    {
        shape.RequireAvailable();
        var owner = await shape.NewUserAsync();
        var here = await shape.NewUserAsync();
        var there = await shape.NewUserAsync();
        await shape.MakeFriendsAsync(owner, here);
        await shape.MakeFriendsAsync(owner, there);
        await using var fake = await FakeGateway.StartAsync(Bus, "it-" + Guid.NewGuid().ToString("N")[..8]);
        await using var published = await BroadcastSpy.StartAsync(Bus, shape.MessagingBus);
        await using var onRealGateway = await shape.ConnectAsync(here);

        // The fake gateway holds "there"; "here" is on the shape's gateway.
        await fake.BeatUntilAsync(FriendsPresence, Full(fake.Id, 1, 0, there.Id), () => FriendsPresence.GatewaysOf(there.Id).Contains(fake.Id));
        await UntilAsync(() => FriendsPresence.GatewaysOf(here.Id).Count > 0, "the real gateway's connect to reach friends' presence");
        // Every gateway's list whole (a gateway whose first beat friends missed is asked for its list, and sends it next beat).
        await UntilAsync(() => FriendsPresence.Locate(owner.Id, new List<string>()) == PresenceAnswer.Offline, "friends' presence to know the owner is offline");
        var group = await shape.CreateGroupAsync(owner, here, there);

        var joined = await onRealGateway.WaitForAsync(m => Frames.IsEvent(m, "GROUP_JOIN"), Wait);
        var sent = await fake.WaitForAsync(p => p.Pushes.Any(u => u.UserId == there.Id));
        var broadcast = await published.UntilQuietAsync();

        Assert.Equal(group.ToString(System.Globalization.CultureInfo.InvariantCulture), Data(joined).GetProperty("group_id").GetString());
        Assert.DoesNotContain(sent.Pushes, p => p.UserId == here.Id || p.AlsoUserIds?.Contains(here.Id) == true);
        Assert.DoesNotContain(broadcast.SelectMany(m => m.Pushes), p => p.UserId is var u && (u == owner.Id || u == here.Id || u == there.Id));
    }

    [SkippableFact]
    public async Task A_restarted_gateway_s_new_list_replaces_its_old_one_at_once()
    {
        shape.RequireAvailable();
        var owner = await shape.NewUserAsync();
        var before = await shape.NewUserAsync();
        var after = await shape.NewUserAsync();
        await shape.MakeFriendsAsync(owner, before);
        await shape.MakeFriendsAsync(owner, after);
        await using var fake = await FakeGateway.StartAsync(Bus, "it-" + Guid.NewGuid().ToString("N")[..8]);
        await fake.BeatUntilAsync(FriendsPresence, Full(fake.Id, 1000, 0, before.Id), () => FriendsPresence.GatewaysOf(before.Id).Contains(fake.Id));

        // The same gateway id restarted: epoch 2000, beat 0, and only "after" connected to it now. No lease has to run out.
        await fake.BeatUntilAsync(FriendsPresence, Full(fake.Id, 2000, 0, after.Id), () => FriendsPresence.GatewaysOf(after.Id).Contains(fake.Id));
        var beforeIsGone = !FriendsPresence.GatewaysOf(before.Id).Contains(fake.Id);
        await shape.CreateGroupAsync(owner, before, after);
        var sent = await fake.WaitForAsync(p => p.Pushes.Any(u => u.UserId == after.Id));

        Assert.True(beforeIsGone, "the old process's user was still listed after the restart's full list");
        Assert.DoesNotContain(sent.Pushes, p => p.UserId == before.Id || p.AlsoUserIds?.Contains(before.Id) == true);
    }

    private static GatewayPresenceReported Full(string gateway, long epoch, long beat, params long[] users) =>
        new(gateway, epoch, beat, DateTimeOffset.UtcNow, 5, Full: true, Joined: users);

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        using var timeout = new CancellationTokenSource(Wait);
        while (!condition())
        {
            if (timeout.IsCancellationRequested)
                Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(100, CancellationToken.None);
        }
    }

    /// <summary>A gateway endpoint of the test's own: it beats when told, and records the pushes sent to it.</summary>
    private sealed class FakeGateway(string id, IBus bus, HostReceiveEndpointHandle handle, Channel<PushToUsers> received) : IAsyncDisposable
    {
        public string Id => id;

        public static async Task<FakeGateway> StartAsync(IBus bus, string id)
        {
            var received = Channel.CreateUnbounded<PushToUsers>();
            var handle = bus.ConnectReceiveEndpoint($"gateway-{id}", e =>
            {
                // Only what is sent to this gateway: no binding to what is published to every gateway.
                e.ConfigureConsumeTopology = false;
                if (e is IRabbitMqReceiveEndpointConfigurator rabbit)
                {
                    rabbit.AutoDelete = true;
                    rabbit.Durable = false;
                }
                e.Handler<PushToUsers>(c => received.Writer.WriteAsync(c.Message).AsTask());
            });
            await handle.Ready;
            return new FakeGateway(id, bus, handle, received);
        }

        /// <summary>Publishes <paramref name="beat"/> until presence shows it applied (the presence endpoint may be busy, or still binding).</summary>
        public async Task BeatUntilAsync(PresenceTable presence, GatewayPresenceReported beat, Func<bool> applied)
        {
            using var timeout = new CancellationTokenSource(Wait);
            while (!applied() || presence.WarmingUp)
            {
                if (timeout.IsCancellationRequested)
                    Assert.Fail($"presence did not apply beat {beat.Beat} of epoch {beat.Epoch} from {id}");
                await bus.Publish(beat with { At = DateTimeOffset.UtcNow });
                await Task.Delay(200, CancellationToken.None);
            }
        }

        public async Task<PushToUsers> WaitForAsync(Func<PushToUsers, bool> match)
        {
            using var timeout = new CancellationTokenSource(Wait);
            while (true)
            {
                var message = await received.Reader.ReadAsync(timeout.Token);
                if (match(message))
                    return message;
            }
        }

        public async ValueTask DisposeAsync() => await handle.StopAsync();
    }

    /// <summary>
    /// An endpoint bound as every gateway's is: what is published to all gateways. It is a gateway's (on the gateway's
    /// <paramref name="bus"/>, named as a gateway's endpoint); its marker is published by a service that may push
    /// (<paramref name="pusher"/>).
    /// </summary>
    private sealed class BroadcastSpy(IBus pusher, HostReceiveEndpointHandle handle, Channel<PushToUsers> received) : IAsyncDisposable
    {
        private static readonly WireMessage Marker = new() { Content = "presence-scenario-marker" };

        public static async Task<BroadcastSpy> StartAsync(IBus bus, IBus pusher)
        {
            var received = Channel.CreateUnbounded<PushToUsers>();
            var handle = bus.ConnectReceiveEndpoint($"gateway-it-broadcast-spy-{Guid.NewGuid():N}", e =>
            {
                e.ConcurrentMessageLimit = 1;
                if (e is IRabbitMqReceiveEndpointConfigurator rabbit)
                {
                    rabbit.AutoDelete = true;
                    rabbit.Durable = false;
                }
                e.Handler<PushToUsers>(c => received.Writer.WriteAsync(c.Message).AsTask());
            });
            await handle.Ready;
            return new BroadcastSpy(pusher, handle, received);
        }

        /// <summary>
        /// What was published until now: a marker is published after the caller's work answered (friends publishes a
        /// change's pushes before it answers), so it queues behind anything that work published, and is awaited.
        /// </summary>
        public async Task<List<PushToUsers>> UntilQuietAsync()
        {
            var markerUser = Random.Shared.NextInt64(1L << 60, long.MaxValue);
            await pusher.Publish(new PushToUsers([new UserPush(markerUser, Marker)]));
            using var timeout = new CancellationTokenSource(Wait);
            var seen = new List<PushToUsers>();
            while (true)
            {
                var message = await received.Reader.ReadAsync(timeout.Token);
                if (message.Pushes.Any(p => p.UserId == markerUser))
                    return seen;
                seen.Add(message);
            }
        }

        public async ValueTask DisposeAsync() => await handle.StopAsync();
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandalonePresenceRoutingScenarios(StandaloneShape shape) : PresenceRoutingScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedPresenceRoutingScenarios(DistributedShape shape) : PresenceRoutingScenarios(shape);
