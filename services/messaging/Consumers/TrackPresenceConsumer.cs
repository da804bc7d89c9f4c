using EasyIm.Contracts.Gateway;
using EasyIm.Messaging.Delivery;
using EasyIm.Messaging.Sending;
using MassTransit;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// Keeps this replica's presence (who is connected to which gateway) for targeted routing. Runs on a
/// temporary endpoint of its own per replica, one message at a time so that a connection's connect and
/// disconnect apply in the order its gateway published them. It only changes memory: the replays presence
/// asks for read the database, so they go to the <see cref="ReplayQueue"/>, not ahead of the next event here.
/// </summary>
public sealed class TrackPresenceConsumer(DeliveryRouter router, ReplayQueue replays, SubmissionChain chain) :
    IConsumer<UserConnected>,
    IConsumer<UserDisconnected>,
    IConsumer<GatewayPresenceReported>,
    IConsumer<GatewayHeartbeat>
{
    public Task Consume(ConsumeContext<UserConnected> context)
    {
        replays.Enqueue(router.Connected(context.Message));
        ForgetExpired();
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<UserDisconnected> context)
    {
        router.Disconnected(context.Message);
        chain.Forget(context.Message.ConnectionId);
        ForgetExpired();
        return Task.CompletedTask;
    }

    public async Task Consume(ConsumeContext<GatewayPresenceReported> context)
    {
        var (replay, askFullList) = router.Beat(context.Message);
        replays.Enqueue(replay);
        ForgetExpired();
        if (askFullList)
            await context.Publish(new ReportGatewayPresence(context.Message.GatewayId));
    }

    /// <summary>An older gateway's heartbeat (rolling upgrade): a full list.</summary>
    public Task Consume(ConsumeContext<GatewayHeartbeat> context)
    {
        replays.Enqueue(router.Heartbeat(context.Message));
        ForgetExpired();
        return Task.CompletedTask;
    }

    private void ForgetExpired()
    {
        foreach (var gateway in router.TakeExpiredGateways())
            chain.ForgetGateway(gateway);
    }
}
