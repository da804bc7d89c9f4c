using EasyIm.Contracts.Gateway;
using EasyIm.Gateway.Delivery;
using MassTransit;

namespace EasyIm.Gateway.Consumers;

/// <summary>A receiver lost track of this gateway's presence (or of every gateway's): the next beat is a full list.</summary>
public sealed class ReportGatewayPresenceConsumer(GatewayIdentity gateway, PresenceHeartbeat heartbeat) : IConsumer<ReportGatewayPresence>
{
    public Task Consume(ConsumeContext<ReportGatewayPresence> context)
    {
        if (context.Message.GatewayId is null || context.Message.GatewayId == gateway.Id)
            heartbeat.AskFullList();
        return Task.CompletedTask;
    }
}
