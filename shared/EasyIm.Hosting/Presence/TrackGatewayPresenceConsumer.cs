using EasyIm.Contracts.Gateway;
using MassTransit;

namespace EasyIm.Hosting.Presence;

/// <summary>
/// Feeds this process's <see cref="PresenceTable"/> (for <see cref="GatewayPushes"/>): on a temporary endpoint of its
/// own, one message at a time, so each gateway's events apply in the order it published them and nothing else waits
/// in the same queue. Asks a gateway for its full list when the table lost track of it. A user who appears on a
/// gateway gets there what <see cref="GatewayPushes"/> dropped for them meanwhile.
/// </summary>
public sealed class TrackGatewayPresenceConsumer(PresenceTable presence, GatewayPushes pushes) :
    IConsumer<UserConnected>,
    IConsumer<UserDisconnected>,
    IConsumer<GatewayPresenceReported>,
    IConsumer<GatewayHeartbeat>
{
    public Task Consume(ConsumeContext<UserConnected> context)
    {
        var late = new Late(pushes);
        presence.Connected(context.Message, late.Arrived);
        return late.SendAsync(context);
    }

    public Task Consume(ConsumeContext<UserDisconnected> context)
    {
        presence.Disconnected(context.Message);
        return Task.CompletedTask;
    }

    public async Task Consume(ConsumeContext<GatewayPresenceReported> context)
    {
        var late = new Late(pushes);
        if (presence.Apply(context.Message, late.Arrived).AskFullList)
            await context.Publish(new ReportGatewayPresence(context.Message.GatewayId));
        await late.SendAsync(context);
    }

    /// <summary>An older gateway's heartbeat (rolling upgrade): a full list.</summary>
    public Task Consume(ConsumeContext<GatewayHeartbeat> context)
    {
        var late = new Late(pushes);
        presence.Apply(context.Message, late.Arrived);
        return late.SendAsync(context);
    }

    /// <summary>What was dropped for the users who arrived, taken under the table's lock and sent after it.</summary>
    private sealed class Late(GatewayPushes pushes)
    {
        private List<(string Gateway, List<UserPush> Pushes)>? _found;

        public void Arrived(long userId, string gatewayId, string? connectionId, DateTimeOffset connectedFrom)
        {
            var dropped = pushes.TakeDropped(userId, connectedFrom);
            if (dropped.Count > 0)
                (_found ??= []).Add((gatewayId, dropped));
        }

        public async Task SendAsync(ConsumeContext context)
        {
            foreach (var (gateway, list) in _found ?? [])
                await pushes.SendToGatewayAsync(gateway, list, context, context.CancellationToken);
        }
    }
}
