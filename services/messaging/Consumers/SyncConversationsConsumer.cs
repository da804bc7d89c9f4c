using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Delivery;
using MassTransit;

namespace EasyIm.Messaging.Consumers;

/// <summary>A client's SYNC, with the cursors its device keeps (or none: the user's ARRIVED cursors).</summary>
public sealed class SyncConversationsConsumer(ConversationSync sync) : IConsumer<SyncConversations>
{
    public Task Consume(ConsumeContext<SyncConversations> context) =>
        context.Message.UserId <= 0 || string.IsNullOrEmpty(context.Message.ConnectionId)
            ? Task.CompletedTask
            : sync.SyncAsync(context, context.Message.UserId, context.Message.ConnectionId, null, context.Message.Cursors, context.Message.GapFill);
}
