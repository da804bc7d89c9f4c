using EasyIm.Contracts.Gateway;
using EasyIm.Messaging.Delivery;
using EasyIm.Messaging.Sending;
using MassTransit;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// Keeps this replica's presence (who is connected to which gateway) for targeted routing. Runs on a
/// temporary endpoint of its own per replica, one message at a time so that a connection's connect and
/// disconnect apply in the order its gateway published them.
/// </summary>
public sealed class TrackPresenceConsumer(DeliveryRouter router, ConversationSync sync, SubmissionChain chain) :
    IConsumer<UserConnected>,
    IConsumer<UserDisconnected>,
    IConsumer<GatewayHeartbeat>
{
    public async Task Consume(ConsumeContext<UserConnected> context)
    {
        foreach (var replay in router.Connected(context.Message))
            await sync.ReplayAsync(context, replay);
    }

    public Task Consume(ConsumeContext<UserDisconnected> context)
    {
        router.Disconnected(context.Message);
        chain.Forget(context.Message.ConnectionId);
        return Task.CompletedTask;
    }

    public async Task Consume(ConsumeContext<GatewayHeartbeat> context)
    {
        foreach (var replay in router.Heartbeat(context.Message))
            await sync.ReplayAsync(context, replay);
        foreach (var gateway in router.TakeExpiredGateways())
            chain.ForgetGateway(gateway);
    }
}
