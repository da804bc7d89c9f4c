using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Delivery;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Consumers;

/// <summary>The user's recent conversations with their last message and how many messages are unread.</summary>
public sealed class ListConversationsConsumer(MessagingDbContext db, ConversationSync sync) : IConsumer<ListConversations>
{
    public const int MaxItems = 200;

    public async Task Consume(ConsumeContext<ListConversations> context)
    {
        var userId = context.Message.UserId;
        var ct = context.CancellationToken;
        var heads = await sync.UserConversations(userId)
            .OrderByDescending(c => c.LastSentAtMs)
            .ThenByDescending(c => c.LastMessageId)
            .Take(MaxItems)
            .ToListAsync(ct);
        var ids = heads.Select(c => c.Id).ToList();
        var lastMessages = await (
                from c in db.Conversations.AsNoTracking()
                where ids.Contains(c.Id)
                join m in db.Messages.AsNoTracking() on new { c.Id, Seq = c.LastSeq } equals new { Id = m.ConversationId, Seq = m.ConversationSeq }
                select m)
            .ToDictionaryAsync(m => m.ConversationId, StringComparer.Ordinal, ct);
        var read = await db.Cursors.AsNoTracking()
            .Where(k => k.UserId == userId && ids.Contains(k.ConversationId))
            .ToDictionaryAsync(k => k.ConversationId, k => k.ReadSeq, StringComparer.Ordinal, ct);

        var items = heads.Select(c => new ConversationSummary(
                c.Id,
                c.Kind,
                c.Kind == 1 ? c.GroupId : (c.UserA == userId ? c.UserB : c.UserA),
                lastMessages.TryGetValue(c.Id, out var last) ? ServerEvents.Stored(last) : null,
                // Deleted messages are not unread: count from past retention's mark when the cursor is older.
                (ulong)Math.Max(0, c.LastSeq - Math.Max(read.GetValueOrDefault(c.Id), c.PrunedThroughSeq))))
            .ToList();
        await context.RespondAsync(new ConversationList(items));
    }
}
