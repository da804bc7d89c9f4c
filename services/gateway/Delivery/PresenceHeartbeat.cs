using EasyIm.Contracts.Gateway;
using EasyIm.Gateway.Connections;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Delivery;

/// <summary>
/// The gateway's periodic work: every second, refill the connections' budgets; every
/// <see cref="HeartbeatEvery"/>, publish <see cref="GatewayHeartbeat"/> (this gateway's presence
/// lease and its connected users) and forget old revocations.
/// </summary>
public sealed class PresenceHeartbeat(
    GatewayIdentity gateway,
    ConnectionRegistry registry,
    IBus bus,
    TimeProvider time,
    ILogger<PresenceHeartbeat> logger) : BackgroundService
{
    public static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(ConnectionBudgets.ReplenishEvery, time);
        var lastBeat = long.MinValue;
        do
        {
            foreach (var connection in registry.Open)
                connection.Budgets.Replenish();

            if (lastBeat == long.MinValue || time.GetElapsedTime(lastBeat) >= HeartbeatEvery)
            {
                lastBeat = time.GetTimestamp();
                registry.ForgetOldRevocations();
                try
                {
                    await bus.Publish(new GatewayHeartbeat(gateway.Id, registry.Users, time.GetUtcNow()), stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning(ex, "Could not publish the heartbeat of gateway {GatewayId}", gateway.Id);
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
