using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Wire;
using MassTransit;

namespace EasyIm.Gateway.Consumers;

/// <summary>Writes each push to its user's connections on this gateway, in order; users not connected here are skipped.</summary>
public sealed class PushToUsersConsumer(ConnectionRegistry registry) : IConsumer<PushToUsers>
{
    public Task Consume(ConsumeContext<PushToUsers> context)
    {
        foreach (var push in context.Message.Pushes)
        {
            var connections = registry.OfUser(push.UserId);
            if (connections.IsEmpty)
                continue;
            Msg? frame = null;
            foreach (var connection in connections)
            {
                if (push.OnlyConnectionId is { } only && connection.Id != only)
                    continue;
                if (push.SkipConnectionId is { } skip && connection.Id == skip)
                    continue;
                // One Msg serves every connection: writers encode it and never change it.
                connection.SyncGate.Deliver(push, frame ??= MsgCodec.FromWire(push.Message));
            }
        }
        return Task.CompletedTask;
    }
}
