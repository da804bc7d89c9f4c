using EasyIm.Contracts;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Authorization;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Delivery;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Consumers;

/// <summary>A page of history, newest first, for the conversation's participants only, saying where retained history starts.</summary>
public sealed class GetHistoryConsumer(MessagingDbContext db, RelationshipChecker relationships) : IConsumer<GetHistory>
{
    public const int MaxLimit = 200;

    public async Task Consume(ConsumeContext<GetHistory> context)
    {
        var (userId, text, beforeSeq, limit) = context.Message;
        var ct = context.CancellationToken;
        if (!ConversationId.TryParse(text, out var id))
        {
            await context.RespondAsync(new RequestRejected(400, "conversation_id must be s_<smaller user id>_<larger user id> or g_<group id>", "conversation_id"));
            return;
        }
        if (limit is < 1 or > MaxLimit)
        {
            await context.RespondAsync(new RequestRejected(400, $"limit must be 1-{MaxLimit}", "limit"));
            return;
        }
        if (beforeSeq == 0)
        {
            await context.RespondAsync(new RequestRejected(400, "before_seq must be a positive number", "before_seq"));
            return;
        }
        if (!await relationships.IsParticipantAsync(userId, id, ct))
        {
            await context.RespondAsync(new RequestRejected(403, "only the conversation's participants may read its history", "conversation_id"));
            return;
        }

        var conversationId = id.ToString();
        var before = beforeSeq is { } b ? (long)Math.Min(b, (ulong)long.MaxValue) : long.MaxValue;
        var head = await db.Conversations.AsNoTracking().Where(c => c.Id == conversationId)
            .Select(c => new { c.LastSeq, c.PrunedThroughSeq }).FirstOrDefaultAsync(ct);
        var (total, pruned) = (head?.LastSeq ?? 0, head?.PrunedThroughSeq ?? 0);
        // Past retention's mark only: a row below it that a batch has not reached yet is as good as gone.
        var rows = await db.Messages.AsNoTracking()
            .Where(m => m.ConversationId == conversationId && m.ConversationSeq < before && m.ConversationSeq > pruned)
            .OrderByDescending(m => m.ConversationSeq)
            .Take(limit)
            .ToListAsync(ct);
        var states = await DeliveryStates.LoadAsync(db, [conversationId], ct);
        await context.RespondAsync(new HistoryPage((ulong)total, rows.Select(states.Stored).ToList(), (ulong)pruned + 1));
    }
}
