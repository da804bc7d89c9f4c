using EasyIm.Contracts.Gateway;
using EasyIm.Messaging.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Delivery;

/// <summary>
/// Pushes a connection what it is missing: every message of the user's conversations after a cursor,
/// oldest first per conversation, in pages of at most <see cref="MessagingOptions.SyncPageSize"/>
/// messages, closed by the SYNC event. Also replays single messages a replica routed past a connection
/// it had not heard of yet (see <see cref="DeliveryRouter"/>).
/// </summary>
public sealed class ConversationSync(MessagingDbContext db, PushDispatcher dispatcher, MessagingOptions options)
{
    /// <summary>Most client cursors a SYNC may name; more is not a client, and would only cost.</summary>
    public const int MaxClientCursors = 2000;

    /// <param name="gatewayId">The connection's gateway when known (a connect), else presence finds it.</param>
    /// <param name="clientCursors">The last seq the device has per conversation; conversations it does not name
    /// start after the user's ARRIVED cursor. Conversations the user is not in are ignored.</param>
    /// <param name="gapFill">Only the conversations <paramref name="clientCursors"/> names, for a gap in a live
    /// connection: the closing push is marked for the gateway and the client sees no SYNC event.</param>
    public async Task SyncAsync(ConsumeContext context, long userId, string connectionId, string? gatewayId,
        IReadOnlyDictionary<string, ulong>? clientCursors, bool gapFill = false)
    {
        var ct = context.CancellationToken;
        // Each conversation is read up to its last seq as of now: a message stored after this point is
        // routed live by whichever replica stores it (or replayed), so the sync need not chase it.
        var query = UserConversations(userId);
        if (gapFill)
        {
            var named = (clientCursors?.Keys ?? []).Take(MaxClientCursors).ToList();
            query = query.Where(c => named.Contains(c.Id));
        }
        var conversations = await query.Select(c => new { c.Id, c.LastSeq }).ToListAsync(ct);
        var arrived = await db.Cursors.AsNoTracking()
            .Where(k => k.UserId == userId)
            .ToDictionaryAsync(k => k.ConversationId, k => k.ArrivedSeq, StringComparer.Ordinal, ct);
        var cursors = clientCursors?.Take(MaxClientCursors).ToDictionary(StringComparer.Ordinal);
        var states = await DeliveryStates.LoadAsync(db, conversations.Select(c => c.Id), ct);

        var page = new List<OutgoingPush>();
        foreach (var conversation in conversations)
        {
            var after = cursors is not null && cursors.TryGetValue(conversation.Id, out var mine)
                ? (long)Math.Min(mine, (ulong)long.MaxValue)
                : arrived.GetValueOrDefault(conversation.Id);
            while (after < conversation.LastSeq)
            {
                var rows = await db.Messages.AsNoTracking()
                    .Where(m => m.ConversationId == conversation.Id && m.ConversationSeq > after && m.ConversationSeq <= conversation.LastSeq)
                    .OrderBy(m => m.ConversationSeq)
                    .Take(options.SyncPageSize - page.Count)
                    .ToListAsync(ct);
                if (rows.Count == 0)
                    break;
                page.AddRange(rows.Select(m => new OutgoingPush(new UserPush(userId, states.Stored(m), OnlyConnectionId: connectionId, Sync: true), gatewayId)));
                after = rows[^1].ConversationSeq;
                if (page.Count >= options.SyncPageSize)
                {
                    await dispatcher.DispatchAsync(context, page);
                    page = [];
                }
            }
        }
        var through = conversations.ToDictionary(c => c.Id, c => (ulong)c.LastSeq, StringComparer.Ordinal);
        page.Add(new OutgoingPush(new UserPush(userId, ServerEvents.SyncDone(userId), OnlyConnectionId: connectionId, Sync: true, SyncedThrough: through, GapFill: gapFill), gatewayId));
        await dispatcher.DispatchAsync(context, page);
    }

    /// <summary>Pushes the named stored messages again, straight to the gateway the user just appeared on.</summary>
    public async Task ReplayAsync(ConsumeContext context, ReplayRequest replay)
    {
        var pushes = new List<UserPush>(replay.Messages.Count);
        foreach (var conversation in replay.Messages.GroupBy(m => m.ConversationId, StringComparer.Ordinal))
        {
            var seqs = conversation.Select(m => m.Seq).ToList();
            var rows = await db.Messages.AsNoTracking()
                .Where(m => m.ConversationId == conversation.Key && seqs.Contains(m.ConversationSeq))
                .OrderBy(m => m.ConversationSeq)
                .ToListAsync(context.CancellationToken);
            var states = await DeliveryStates.LoadAsync(db, [conversation.Key], context.CancellationToken);
            pushes.AddRange(rows.Select(m => new UserPush(replay.UserId, states.Stored(m), OnlyConnectionId: replay.ConnectionId)));
        }
        await dispatcher.SendToGatewayAsync(context, replay.GatewayId, pushes);
    }

    /// <summary>The user's one-to-one conversations and those of the groups they are in now.</summary>
    public IQueryable<Conversation> UserConversations(long userId)
    {
        var single = db.Conversations.AsNoTracking()
            .Where(c => c.Kind == 0 && (c.UserA == userId || c.UserB == userId));
        var groups = from m in db.GroupMembers.AsNoTracking()
                     where m.UserId == userId && m.Active
                     join c in db.Conversations.AsNoTracking() on m.GroupId equals c.GroupId
                     where c.Kind == 1
                     select c;
        return single.Concat(groups);
    }
}
