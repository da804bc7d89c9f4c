using System.Globalization;
using System.Diagnostics;
using EasyIm.Contracts.Gateway;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Wire;
using EasyIm.Hosting;
using MassTransit;

namespace EasyIm.Gateway.Consumers;

/// <summary>Writes each push to its users' connections on this gateway, in order; users not connected here are skipped.</summary>
public sealed class PushToUsersConsumer(ConnectionRegistry registry) : IConsumer<PushToUsers>
{
    public Task Consume(ConsumeContext<PushToUsers> context)
    {
        // Every connection this message reaches is written on this thread once all are queued.
        using var writes = InlineWrites.Begin();
        // One clock reading serves the whole bus message: its pushes arrived together.
        var nowMs = EasyImTelemetry.DeliveryLatency.Enabled ? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() : 0;
        foreach (var push in context.Message.Pushes)
        {
            var message = push.Message;
            if (message.MsgType < 4 && !push.Sync && message.SentAt > 0 && message.Status != 0)
            {
                EasyImTelemetry.MessagesPushed.Add(1);
                if (nowMs > 0)
                    EasyImTelemetry.DeliveryLatency.Record(Math.Max(0, nowMs - message.SentAt));
            }
            var span = push.TraceParent is not null ? EasyImTelemetry.StartMessageSpan("chat push", ActivityKind.Consumer, push.TraceParent) : null;
            try
            {
                if (span is not null)
                    span.SetTag("easyim.user_ids", push.AlsoUserIds is null ? push.UserId.ToString(CultureInfo.InvariantCulture) : string.Join(',', [push.UserId, .. push.AlsoUserIds]));
                // One frame serves every connection the push reaches: it is encoded at most once per
                // wire format, however many connections (and users, AlsoUserIds) it goes to.
                // With stream positions, each user's frame carries their own: one frame per user instead.
                OutboundFrame? frame = null;
                Deliver(push, push.UserId, PositionAt(push, 0), ref frame);
                var i = 0;
                foreach (var userId in push.AlsoUserIds ?? [])
                    Deliver(push, userId, PositionAt(push, ++i), ref frame);
            }
            finally
            {
                EasyImTelemetry.Stop(span);
            }
        }
        return Task.CompletedTask;
    }

    private static Contracts.Wire.Msg WithPosition(Contracts.Wire.Msg msg, ulong position)
    {
        msg.Position = position;
        return msg;
    }

    private static ulong PositionAt(UserPush push, int index) =>
        push.Positions is { } positions && index < positions.Count && positions[index] > 0 ? (ulong)positions[index] : 0;

    private void Deliver(UserPush push, long userId, ulong position, ref OutboundFrame? shared)
    {
        // The update's place in the user's stream, for the gate's gap finding: a message's (or receipt's, event's) own.
        var streamPosition = position > 0 ? (long)position : push.Message.Event?.Position ?? 0;
        // A frame without a position serves every user of the push; one with a position serves only its user.
        OutboundFrame? own = null;
        ref var frame = ref position == 0 ? ref shared : ref own;
        foreach (var connection in registry.OfUser(userId))
        {
            if (push.OnlyConnectionId is { } only && connection.Id != only)
                continue;
            if (push.Close)
            {
                // Its FAIL is the last frame: the client reconnects and sends again what got no SENT ack, in order.
                connection.Close(push.Message.Error ?? "closed by the server", MsgCodec.FromWire(push.Message));
                continue;
            }
            if (push.SkipConnectionId is { } skip && connection.Id == skip)
                continue;
            if (push.AckConnectionId is { } acked && connection.Id == acked)
            {
                // The sending connection's SENT ack: the stored message with the client's own seq.
                var ack = MsgCodec.FromWire(push.Message);
                ack.Seq = push.AckSeq;
                ack.Position = position;
                connection.SyncGate.Deliver(push, new OutboundFrame(ack), streamPosition);
                continue;
            }
            connection.SyncGate.Deliver(push, frame ??= new OutboundFrame(WithPosition(MsgCodec.FromWire(push.Message), position)), streamPosition);
        }
    }
}
