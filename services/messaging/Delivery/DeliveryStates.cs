using EasyIm.Contracts.Gateway;
using EasyIm.Messaging.Data;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Delivery;

/// <summary>
/// How far a one-to-one message got, read off its recipient's cursors rather than stored per message:
/// READ up to the recipient's read cursor, ARRIVED up to its arrived cursor, else SENT. A receipt then
/// moves one cursor row, not every message row it covers. Group messages stay SENT (each member's own
/// cursor says how far that member got).
/// </summary>
public sealed class DeliveryStates
{
    private readonly Dictionary<(string ConversationId, long UserId), (long Arrived, long Read)> _cursors;

    private DeliveryStates(Dictionary<(string, long), (long, long)> cursors) => _cursors = cursors;

    /// <summary>The cursors of the one-to-one conversations among <paramref name="conversationIds"/>.</summary>
    public static async Task<DeliveryStates> LoadAsync(MessagingDbContext db, IEnumerable<string> conversationIds, CancellationToken cancellationToken)
    {
        var single = conversationIds.Where(id => id.StartsWith("s_", StringComparison.Ordinal)).Distinct().ToList();
        var cursors = single.Count == 0 ? [] : await db.Cursors.AsNoTracking()
            .Where(k => single.Contains(k.ConversationId))
            .ToDictionaryAsync(k => (k.ConversationId, k.UserId), k => (k.ArrivedSeq, k.ReadSeq), cancellationToken);
        return new DeliveryStates(cursors);
    }

    /// <summary>The stored message as clients see it, with its delivery state.</summary>
    public WireMessage Stored(Message m)
    {
        var stored = ServerEvents.Stored(m);
        if (m.ChatType != 0 || !_cursors.TryGetValue((m.ConversationId, m.ToId), out var cursor))
            return stored;
        var status = m.ConversationSeq <= cursor.Read ? MessageStatus.Read
            : m.ConversationSeq <= cursor.Arrived ? MessageStatus.Arrived
            : MessageStatus.Sent;
        return status > stored.Status ? stored with { Status = status } : stored;
    }
}
