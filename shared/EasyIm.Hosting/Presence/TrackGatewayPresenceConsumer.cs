using EasyIm.Contracts.Gateway;
using MassTransit;

namespace EasyIm.Hosting.Presence;

/// <summary>
/// Feeds this process's <see cref="PresenceTable"/> (for <see cref="GatewayPushes"/>): on a temporary endpoint of its
/// own, one message at a time, so each gateway's events apply in the order it published them and nothing else waits
/// in the same queue. Asks a gateway for its full list when the table lost track of it.
/// </summary>
public sealed class TrackGatewayPresenceConsumer(PresenceTable presence) :
    IConsumer<UserConnected>,
    IConsumer<UserDisconnected>,
    IConsumer<GatewayPresenceReported>,
    IConsumer<GatewayHeartbeat>
{
    public Task Consume(ConsumeContext<UserConnected> context)
    {
        presence.Connected(context.Message);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<UserDisconnected> context)
    {
        presence.Disconnected(context.Message);
        return Task.CompletedTask;
    }

    public async Task Consume(ConsumeContext<GatewayPresenceReported> context)
    {
        if (presence.Apply(context.Message).AskFullList)
            await context.Publish(new ReportGatewayPresence(context.Message.GatewayId));
    }

    /// <summary>An older gateway's heartbeat (rolling upgrade): a full list.</summary>
    public Task Consume(ConsumeContext<GatewayHeartbeat> context)
    {
        presence.Apply(context.Message);
        return Task.CompletedTask;
    }
}
