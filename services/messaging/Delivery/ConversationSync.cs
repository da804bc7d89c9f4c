using System.Text;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Delivery;

/// <summary>
/// What a connection is missing: every message of the user's conversations after a cursor, oldest
/// first per conversation, conversations in ordinal order of their ids, in pages of at most
/// <see cref="MessagingOptions.SyncPageSize"/> messages and about <see cref="MessagingOptions.SyncPageBytes"/>
/// of content, closed by the SYNC event. A page is read on request (<see cref="ReadPageAsync"/>: the
/// gateway asks for the next one once the connection has read the last, so nothing is read ahead of
/// the client or for a connection that is gone), or all pages are pushed one after the other
/// (<see cref="SyncAsync"/>: gateways before the budgets, and gap fills), stopping when the connection is
/// heard to be gone. Also replays single messages a replica routed past a connection it had not heard
/// of yet (see <see cref="DeliveryRouter"/>).
/// </summary>
public sealed class ConversationSync(MessagingDbContext db, PushDispatcher dispatcher, DeliveryRouter router, MessagingOptions options)
{
    /// <summary>Most client cursors a SYNC may name; more is not a client, and would only cost.</summary>
    public const int MaxClientCursors = 2000;

    /// <summary>What a message is taken to weigh on top of its content, for <see cref="MessagingOptions.SyncPageBytes"/>.</summary>
    private const int MessageOverheadBytes = 256;

    /// <summary>Pushes every page of a sync to the connection, one after the other.</summary>
    /// <param name="gatewayId">The connection's gateway when known (a connect), else presence finds it.</param>
    /// <param name="clientCursors">The last seq the device has per conversation; conversations it does not name
    /// start after the user's ARRIVED cursor. Conversations the user is not in are ignored.</param>
    /// <param name="gapFill">Only the conversations <paramref name="clientCursors"/> names, for a gap in a live
    /// connection: the closing push is marked for the gateway and the client sees no SYNC event.</param>
    /// <param name="upTo">With <paramref name="gapFill"/> and <paramref name="afterPosition"/>: a gap among the positions
    /// a live connection was written, after <paramref name="afterPosition"/> up to this one (see <see cref="ReadPageAsync"/>).</param>
    public async Task SyncAsync(ConsumeContext context, long userId, string connectionId, string? gatewayId,
        IReadOnlyDictionary<string, ulong>? clientCursors, bool gapFill = false, long? afterPosition = null, long? upTo = null)
    {
        SyncResume? resume = null;
        do
        {
            // A connection that is gone gets nothing more: the rest would be read and pushed for no one.
            if (resume is not null && router.WasDisconnected(connectionId))
                return;
            var page = await ReadPageAsync(userId, connectionId, clientCursors, resume, gapFill, context.CancellationToken, afterPosition, upTo);
            foreach (var pushes in page.Pushes.Chunk(options.SyncPageSize))
                await dispatcher.DispatchAsync(context, [.. pushes.Select(p => new OutgoingPush(p, gatewayId))]);
            resume = page.Resume;
        }
        while (resume is not null);
    }

    /// <summary>
    /// Reads one page of a sync, from <paramref name="resume"/> (null: the first page). The last page ends
    /// with the SYNC event, whose <see cref="UserPush.SyncedThrough"/> gives each conversation's last seq
    /// as of that page: a message stored after a conversation was read is routed live by whichever
    /// replica stores it (or replayed), so the sync need not chase it.
    /// </summary>
    /// <param name="afterPosition">
    /// A sync after a position of the user's update stream: the cursors that position stands for
    /// (<see cref="CursorsAfterAsync"/>); conversations it does not name have nothing after it, except groups that are
    /// their own streams (<see cref="Conversation.OwnStream"/>: large groups, <see cref="MessagingOptions.StreamMaxGroupMembers"/>): those go on from
    /// <paramref name="clientCursors"/> (the device's seqs) when it names them, else from the user's ARRIVED cursors.
    /// </param>
    /// <param name="upTo">
    /// A position gap fill (with <paramref name="gapFill"/> and <paramref name="afterPosition"/>): the gateway wrote the
    /// connection positions on both sides of <paramref name="afterPosition"/>+1..<paramref name="upTo"/> but not those.
    /// The first page pushes the events at those positions (as live pushes, with their positions; a page of them at most,
    /// and then the fill ends at the last), then the conversations of the messages there, each from the first of them to
    /// its end (what the connection already has again is dropped by id); the closing push is marked for the gateway,
    /// with the end of the range it covered as its head.
    /// </param>
    public async Task<SyncPage> ReadPageAsync(long userId, string connectionId, IReadOnlyDictionary<string, ulong>? clientCursors,
        SyncResume? resume, bool gapFill, CancellationToken ct, long? afterPosition = null, long? upTo = null)
    {
        long head = 0;
        var positionExpired = false;
        var complete = false;
        var positionFill = gapFill && afterPosition is not null && upTo is not null;
        List<UserPush>? events = null;
        if (afterPosition is { } position && (!gapFill || positionFill))
        {
            head = resume?.Head ?? (positionFill ? upTo!.Value
                : await db.StreamHeads.AsNoTracking().Where(h => h.UserId == userId).Select(h => h.Position).FirstOrDefaultAsync(ct));
            if (positionFill && resume is null)
            {
                // The gap's events first, a page at most: past a full page the fill covers up to its last event only, and
                // the gateway asks for the rest.
                var stored = await db.StreamEvents.AsNoTracking()
                    .Where(e => e.UserId == userId && e.Position > position && e.Position <= head)
                    .OrderBy(e => e.Position)
                    .Take(options.SyncPageSize)
                    .ToListAsync(ct);
                if (stored.Count == options.SyncPageSize)
                    head = stored[^1].Position;
                events = stored.Select(e => new UserPush(userId, StreamEvents.Wire(e), OnlyConnectionId: connectionId)).ToList();
            }
            var after = await CursorsAfterAsync(userId, Math.Max(0, position), head, ct);
            positionExpired = after is null;
            if (positionFill)
            {
                // Only what the gap holds: its messages' conversations; nothing else is named.
                after ??= [];
            }
            else if (after is not null)
            {
                // The device's own seqs for what the position does not cover (large groups), the position's where both say.
                foreach (var (id, seq) in clientCursors?.Take(MaxClientCursors) ?? [])
                    after[id] = after.TryGetValue(id, out var derived) ? Math.Min(derived, seq) : seq;
            }
            clientCursors = after;
            // Conversations the position does not name have nothing after it (large groups aside).
            complete = after is not null;
        }
        var query = UserConversations(userId);
        if (gapFill)
        {
            var named = (clientCursors?.Keys ?? []).Take(MaxClientCursors).ToList();
            query = query.Where(c => named.Contains(c.Id));
        }
        // Ordered here, not by the database: a PostgreSQL collation need not be ordinal, and a resume
        // point must mean the same thing on every page.
        var conversations = (await query.Select(c => new { c.Id, c.LastSeq, c.PrunedThroughSeq, c.OwnStream }).ToListAsync(ct))
            .OrderBy(c => c.Id, StringComparer.Ordinal).ToList();
        // A position's cursors are the server's own (one per conversation of the user); a device's are bounded.
        var cursors = (complete ? clientCursors : clientCursors?.Take(MaxClientCursors))?.ToDictionary(StringComparer.Ordinal);
        var ownStreams = complete ? conversations.Where(c => c.OwnStream).Select(c => c.Id).ToHashSet(StringComparer.Ordinal) : [];
        Dictionary<string, long>? arrived = null;
        if ((!complete || ownStreams.Count > 0) && (cursors is null || conversations.Any(c => !cursors.ContainsKey(c.Id))))
        {
            arrived = await db.Cursors.AsNoTracking()
                .Where(k => k.UserId == userId)
                .ToDictionaryAsync(k => k.ConversationId, k => k.ArrivedSeq, StringComparer.Ordinal, ct);
        }

        var pushes = events ?? new List<UserPush>();
        var bytes = 0L;
        // Conversations whose cursor was older than their kept history, and where it starts: for the SYNC event.
        var retainedFrom = resume?.RetainedFrom is { } carried ? new Dictionary<string, ulong>(carried, StringComparer.Ordinal) : null;
        DeliveryStates? states = null;
        foreach (var conversation in conversations)
        {
            var order = resume is null ? 1 : string.CompareOrdinal(conversation.Id, resume.ConversationId);
            if (order < 0)
                continue;
            var after = order == 0 ? (long)Math.Min(resume!.AfterSeq, (ulong)long.MaxValue)
                : cursors is not null && cursors.TryGetValue(conversation.Id, out var mine) ? (long)Math.Min(mine, (ulong)long.MaxValue)
                : complete && !ownStreams.Contains(conversation.Id) ? conversation.LastSeq
                : arrived!.GetValueOrDefault(conversation.Id);
            if (after < conversation.PrunedThroughSeq)
            {
                // Retention deleted what follows the cursor: go on from the first message kept, and say so.
                (retainedFrom ??= new(StringComparer.Ordinal))[conversation.Id] = (ulong)conversation.PrunedThroughSeq + 1;
                after = conversation.PrunedThroughSeq;
            }
            while (after < conversation.LastSeq)
            {
                if (pushes.Count >= options.SyncPageSize || bytes >= options.SyncPageBytes)
                    return new SyncPage(pushes, new SyncResume(conversation.Id, (ulong)after, retainedFrom, head));
                var rows = await db.Messages.AsNoTracking()
                    .Where(m => m.ConversationId == conversation.Id && m.ConversationSeq > after && m.ConversationSeq <= conversation.LastSeq)
                    .OrderBy(m => m.ConversationSeq)
                    .Take(options.SyncPageSize - pushes.Count)
                    .ToListAsync(ct);
                if (rows.Count == 0)
                    break;
                states ??= await DeliveryStates.LoadAsync(db, conversations.Select(c => c.Id), ct);
                foreach (var row in rows)
                {
                    // The page ends at its byte bound too (at least one message a page), so a page of long
                    // messages is still one bounded bus message and a bounded write to the client.
                    if (pushes.Count > 0 && bytes >= options.SyncPageBytes)
                        break;
                    pushes.Add(new UserPush(userId, states.Stored(row), OnlyConnectionId: connectionId, Sync: true));
                    bytes += Encoding.UTF8.GetByteCount(row.Content) + MessageOverheadBytes;
                    after = row.ConversationSeq;
                }
            }
        }
        var through = conversations.ToDictionary(c => c.Id, c => (ulong)c.LastSeq, StringComparer.Ordinal);
        pushes.Add(new UserPush(userId, ServerEvents.SyncDone(userId, retainedFrom, head, positionExpired), OnlyConnectionId: connectionId, Sync: true,
            SyncedThrough: through, GapFill: gapFill));
        return new SyncPage(pushes, null);
    }

    /// <summary>
    /// What a device at stream position <paramref name="after"/> has, as per-conversation cursors: for each conversation
    /// with messages at positions after it (up to <paramref name="head"/>), the seq just before the first of them. Null
    /// when the stream no longer reaches back to <paramref name="after"/> (its oldest entries were pruned).
    /// </summary>
    private async Task<Dictionary<string, ulong>?> CursorsAfterAsync(long userId, long after, long head, CancellationToken ct)
    {
        var cursors = new Dictionary<string, ulong>(StringComparer.Ordinal);
        if (after >= head)
            return cursors;
        // Positions run from 1 to the head without gaps (messages' entries and events alike) until pruning takes the oldest.
        var oldest = await StreamEvents.OldestAsync(db, userId, ct);
        if (oldest == 0 || oldest > after + 1)
            return null;
        var entries = db.StreamEntries.AsNoTracking().Where(e => e.UserId == userId);
        // A run that starts at or before the position and goes on past it: the device has its messages up to there.
        var straddling = await entries.Where(e => e.Position <= after).OrderByDescending(e => e.Position).FirstOrDefaultAsync(ct);
        if (straddling is not null && straddling.Position + (straddling.SeqTo - straddling.SeqFrom) > after)
            cursors[straddling.ConversationId] = (ulong)(straddling.SeqFrom + (after - straddling.Position));
        var firsts = await entries.Where(e => e.Position > after && e.Position <= head)
            .GroupBy(e => e.ConversationId)
            .Select(g => new { ConversationId = g.Key, SeqFrom = g.Min(e => e.SeqFrom) })
            .ToListAsync(ct);
        foreach (var first in firsts)
        {
            var before = (ulong)Math.Max(0, first.SeqFrom - 1);
            cursors[first.ConversationId] = cursors.TryGetValue(first.ConversationId, out var known) ? Math.Min(known, before) : before;
        }
        return cursors;
    }

    /// <summary>Pushes the named stored messages again, straight to the gateway the user just appeared on.</summary>
    public async Task ReplayAsync(ReplayRequest replay, IPublishEndpoint publisher, CancellationToken cancellationToken)
    {
        var pushes = new List<UserPush>(replay.Messages.Count);
        foreach (var conversation in replay.Messages.GroupBy(m => m.ConversationId, StringComparer.Ordinal))
        {
            var seqs = conversation.Select(m => m.Seq).ToList();
            var rows = await db.Messages.AsNoTracking()
                .Where(m => m.ConversationId == conversation.Key && seqs.Contains(m.ConversationSeq))
                .OrderBy(m => m.ConversationSeq)
                .ToListAsync(cancellationToken);
            var states = await DeliveryStates.LoadAsync(db, [conversation.Key], cancellationToken);
            pushes.AddRange(rows.Select(m => new UserPush(replay.UserId, states.Stored(m), OnlyConnectionId: replay.ConnectionId)));
        }
        await dispatcher.SendToGatewayAsync(publisher, replay.GatewayId, pushes, cancellationToken);
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
