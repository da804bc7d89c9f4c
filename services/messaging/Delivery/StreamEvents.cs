using EasyIm.Contracts;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Delivery;

/// <summary>Reading the stream's events back.</summary>
internal static class StreamEvents
{
    /// <summary>A stored event as its push is.</summary>
    public static WireMessage Wire(StreamEvent e) => ClientEventJson.TryDeserialize(e.Content) switch
    {
        // A receipt's push carries its status and conversation beside the event (easyim's clients read them there).
        ReceiptEvent receipt => ServerEvents.Receipt(receipt.Read ? MessageStatus.Read : MessageStatus.Arrived, receipt.UserId, e.UserId,
            ConversationId.TryParse(receipt.ConversationId, out var conversation) ? conversation.ChatType : 0, receipt.ConversationId,
            receipt.Seq, receipt.Position, receipt.UserIds),
        var other => new()
        {
            MsgType = EventKeys.EventMsgType,
            FromUserId = e.FromUserId,
            ToUserId = e.UserId,
            Event = other,
        },
    };

    /// <summary>The user's oldest position still kept, messages and events alike (0: none).</summary>
    public static async Task<long> OldestAsync(MessagingDbContext db, long userId, CancellationToken ct)
    {
        var entry = await db.StreamEntries.AsNoTracking().Where(e => e.UserId == userId).MinAsync(e => (long?)e.Position, ct);
        var stored = await db.StreamEvents.AsNoTracking().Where(e => e.UserId == userId).MinAsync(e => (long?)e.Position, ct);
        return entry is null ? stored ?? 0 : stored is null ? entry.Value : Math.Min(entry.Value, stored.Value);
    }
}
