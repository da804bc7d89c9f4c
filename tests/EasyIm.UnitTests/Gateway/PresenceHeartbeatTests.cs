using EasyIm.Contracts.Gateway;
using EasyIm.Gateway;
using EasyIm.Gateway.Delivery;
using EasyIm.Hosting.Presence;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace EasyIm.UnitTests.Gateway;

/// <summary>What a gateway's beat publishes: the presence beat always, the older heartbeat only when asked for an upgrade.</summary>
public sealed class PresenceHeartbeatTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_older_heartbeat_goes_beside_the_beat_only_with_LegacyHeartbeat(bool legacy)
    {
        await using var gateway = await GatewayServices.StartAsync(new GatewayOptions());
        var beating = new PresenceHeartbeat(gateway.Get<GatewayIdentity>(), gateway.Registry, new PresenceOptions { LegacyHeartbeat = legacy },
            gateway.Get<IBus>(), TimeProvider.System, NullLogger<PresenceHeartbeat>.Instance);
        await beating.StartAsync(CancellationToken.None);
        using (var wait = new CancellationTokenSource(Wait))
            Assert.True(await gateway.Harness.Published.Any<GatewayPresenceReported>(p => p.Context.Message is { Beat: 0, Full: true }, wait.Token));
        // Stopping waits for the round under way: whatever that beat publishes has been published after it.
        await beating.StopAsync(CancellationToken.None);

        var older = gateway.Harness.Published.Select<GatewayHeartbeat>().Select(p => p.Context.Message).ToList();
        Assert.Equal(legacy, older.Count > 0);
        Assert.All(older, h => Assert.Equal("unit", h.GatewayId));
    }
}
