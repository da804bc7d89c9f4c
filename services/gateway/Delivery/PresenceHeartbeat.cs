using EasyIm.Contracts.Gateway;
using EasyIm.Gateway.Connections;
using EasyIm.Hosting.Presence;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Delivery;

/// <summary>
/// The gateway's periodic work: every second, refill the connections' budgets; every
/// <see cref="PresenceOptions.HeartbeatSeconds"/>, publish <see cref="GatewayPresenceReported"/> (this gateway's
/// presence lease and who joined or left since the last beat; every <see cref="PresenceOptions.FullListEvery"/>th
/// beat, and the one after a receiver asked, everyone) and forget old revocations.
/// </summary>
public sealed class PresenceHeartbeat(
    GatewayIdentity gateway,
    ConnectionRegistry registry,
    PresenceOptions options,
    IBus bus,
    TimeProvider time,
    ILogger<PresenceHeartbeat> logger) : BackgroundService
{
    /// <summary>This process's epoch: its start time, so a restart with the same gateway id has a larger one.</summary>
    private readonly long _epoch = time.GetUtcNow().ToUnixTimeMilliseconds();
    private long _beat = -1;
    private HashSet<long> _lastSent = [];
    private volatile bool _fullAsked;

    public long Epoch => _epoch;

    /// <summary>A receiver lost track of this gateway: the next beat lists everyone.</summary>
    public void AskFullList() => _fullAsked = true;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(ConnectionBudgets.ReplenishEvery, time);
        var beatEvery = TimeSpan.FromSeconds(options.HeartbeatSeconds);
        var lastBeat = long.MinValue;
        do
        {
            foreach (var connection in registry.Open)
                connection.Budgets.Replenish();

            if (lastBeat == long.MinValue || time.GetElapsedTime(lastBeat) >= beatEvery)
            {
                lastBeat = time.GetTimestamp();
                registry.ForgetOldRevocations();
                await BeatAsync(stoppingToken);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task BeatAsync(CancellationToken stoppingToken)
    {
        var users = registry.Users.ToHashSet();
        var beat = _beat + 1;
        var full = beat % options.FullListEvery == 0 || _fullAsked;
        var report = full
            ? new GatewayPresenceReported(gateway.Id, _epoch, beat, time.GetUtcNow(), options.HeartbeatSeconds, Full: true, Joined: [.. users])
            : new GatewayPresenceReported(gateway.Id, _epoch, beat, time.GetUtcNow(), options.HeartbeatSeconds,
                Joined: Nullable(users.Where(u => !_lastSent.Contains(u))), Left: Nullable(_lastSent.Where(u => !users.Contains(u))));
        try
        {
            await bus.Publish(report, stoppingToken);
            if (options.LegacyHeartbeat)
                await bus.Publish(new GatewayHeartbeat(gateway.Id, [.. users], report.At), stoppingToken);
            // Counted only once sent: a beat that failed is not a gap, its changes go with the next one.
            _beat = beat;
            _lastSent = users;
            if (full)
                _fullAsked = false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Could not publish the presence beat of gateway {GatewayId}", gateway.Id);
        }
    }

    private static List<long>? Nullable(IEnumerable<long> users)
    {
        var list = users.ToList();
        return list.Count == 0 ? null : list;
    }
}
