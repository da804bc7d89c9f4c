using EasyIm.Contracts.Messaging;
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
        var bus = services.GetRequiredService<IBus>();
        _ = Task.Run(async () =>
        {
            foreach (var connection in connections)
            {
                connection.SyncGate.Begin();
                try
                {
                    await bus.Publish(new SyncConversations(connection.UserId, connection.Id, null));
                }
                catch (Exception ex)
                {
                    // The connection's SyncGate stops holding at its sync timeout; the client may still send SYNC.
                    logger.LogWarning(ex, "Could not ask for the sync of connection {ConnectionId}", connection.Id);
                }
            }
        });
        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;
    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;
    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;
}
