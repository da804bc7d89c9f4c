using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Delivery;
using MassTransit;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// A client's SYNC, with the cursors its device keeps (or none: the user's ARRIVED cursors). Asked as a
/// request it is answered with one page (the gateway asks for the next once the client has read it);
/// published, every page is pushed (gateways before the budgets, and the gateway's gap fills).
/// </summary>
public sealed class SyncConversationsConsumer(ConversationSync sync) : IConsumer<SyncConversations>
{
    public async Task Consume(ConsumeContext<SyncConversations> context)
    {
        var message = context.Message;
        var valid = message.UserId > 0 && !string.IsNullOrEmpty(message.ConnectionId);
        if (context.RequestId.HasValue && context.ResponseAddress is not null)
        {
            var page = valid
                ? await sync.ReadPageAsync(message.UserId, message.ConnectionId, message.Cursors, message.Resume, message.GapFill, context.CancellationToken, message.After)
                : new SyncPage([], null);
            await context.RespondAsync(page);
            return;
        }
        if (valid)
            await sync.SyncAsync(context, message.UserId, message.ConnectionId, null, message.Cursors, message.GapFill, message.After,
                message.GapFill ? message.UpTo : null);
    }
}
