using EasyIm.Contracts;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Authorization;
using EasyIm.Messaging.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// Read by (issue 15): every other participant's ARRIVED and READ cursor in a conversation, for its participants only
/// (a group's current members; at most <c>Friends:MaxGroupMembers</c> rows, one indexed range of cursors).
/// </summary>
public sealed class GetReceiptCursorsConsumer(MessagingDbContext db, RelationshipChecker relationships) : IConsumer<GetReceiptCursors>
{
    public async Task Consume(ConsumeContext<GetReceiptCursors> context)
    {
        var (userId, text) = context.Message;
        var ct = context.CancellationToken;
        if (!ConversationId.TryParse(text, out var id))
        {
            await context.RespondAsync(new RequestRejected(400, "conversation_id must be s_<smaller user id>_<larger user id> or g_<group id>", "conversation_id"));
            return;
        }
        if (!await relationships.IsParticipantAsync(userId, id, ct))
        {
            await context.RespondAsync(new RequestRejected(403, "only the conversation's participants may see who received and read it", "conversation_id"));
            return;
        }
        var conversationId = id.ToString();
        List<long> others = id.IsGroup
            ? await db.GroupMembers.AsNoTracking().Where(m => m.GroupId == id.GroupId && m.Active && m.UserId != userId).Select(m => m.UserId).ToListAsync(ct)
            : [id.PeerOf(userId)];
        var cursors = await db.Cursors.AsNoTracking()
            .Where(k => k.ConversationId == conversationId && others.Contains(k.UserId))
            .ToDictionaryAsync(k => k.UserId, ct);
        var lastSeq = await db.Conversations.AsNoTracking().Where(c => c.Id == conversationId).Select(c => c.LastSeq).FirstOrDefaultAsync(ct);
        var items = others.Order()
            .Select(u => cursors.TryGetValue(u, out var k) ? new ReceiptCursor(u, k.ArrivedSeq, k.ReadSeq) : new ReceiptCursor(u, 0, 0))
            .ToList();
        await context.RespondAsync(new ReceiptCursorList(lastSeq, items));
    }
}
