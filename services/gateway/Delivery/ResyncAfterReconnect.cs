using EasyIm.Gateway.Connections;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Delivery;

/// <summary>
/// When the broker restarts, this gateway's temporary queue goes with it until MassTransit reconnects and
/// declares it again, and pushes sent meanwhile are lost: its connections would miss messages stored in
/// that window while staying connected. So each time the gateway's endpoint is ready again after the
/// first time, every connection is synced as at its handshake: chat messages are held until the sync
/// (from the user's ARRIVED cursors) is done, so each conversation still arrives in seq order, and the
/// client drops what it already has by id.
/// </summary>
public sealed class ResyncAfterReconnect(GatewayIdentity gateway, ConnectionRegistry registry, IServiceProvider services, ILogger<ResyncAfterReconnect> logger)
    : IReceiveEndpointObserver
{
    private int _ready;

    public Task Ready(ReceiveEndpointReady ready)
    {
        if (!ready.InputAddress.AbsolutePath.EndsWith("/" + gateway.EndpointName, StringComparison.Ordinal))
            return Task.CompletedTask;
        if (Interlocked.Increment(ref _ready) == 1)
            return Task.CompletedTask;
        var connections = registry.Open.Where(c => c.Session is not null && !c.IsClosing).ToList();
        logger.LogWarning("Gateway {GatewayId} is consuming again after a broker fault: syncing its {Count} connections", gateway.Id, connections.Count);
        var syncs = services.GetRequiredService<FrameHandler>().Syncs;
        foreach (var connection in connections)
        {
            // A sync already running runs this one after it (the SyncGate stops holding at its sync timeout
            // if the running one's done comes first).
            connection.SyncGate.Begin();
            syncs.Request(connection, null);
        }
        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;
    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;
    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;
}
