using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Wire;
using MassTransit;

namespace EasyIm.Gateway.Consumers;

/// <summary>Writes each push to its users' connections on this gateway, in order; users not connected here are skipped.</summary>
public sealed class PushToUsersConsumer(ConnectionRegistry registry) : IConsumer<PushToUsers>
{
    public Task Consume(ConsumeContext<PushToUsers> context)
    {
        foreach (var push in context.Message.Pushes)
        {
            // One Msg serves every connection: writers encode it and never change it.
            Msg? frame = null;
            Deliver(push, push.UserId, ref frame);
            foreach (var userId in push.AlsoUserIds ?? [])
                Deliver(push, userId, ref frame);
        }
        return Task.CompletedTask;
    }

    private void Deliver(UserPush push, long userId, ref Msg? frame)
    {
        foreach (var connection in registry.OfUser(userId))
        {
            if (push.OnlyConnectionId is { } only && connection.Id != only)
                continue;
            if (push.SkipConnectionId is { } skip && connection.Id == skip)
                continue;
            if (push.AckConnectionId is { } acked && connection.Id == acked)
            {
                var ack = MsgCodec.FromWire(push.Message);
                ack.Seq = push.AckSeq;
                connection.SyncGate.Deliver(push, ack);
                continue;
            }
            connection.SyncGate.Deliver(push, frame ??= MsgCodec.FromWire(push.Message));
        }
    }
}
