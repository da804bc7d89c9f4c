using System.Diagnostics;
using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Hosting;
using EasyIm.Hosting.Ids;
using EasyIm.Messaging.Authorization;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Delivery;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.Messaging.Sending;

/// <summary>
/// Stores one group of work (chat batches and receipts, in the order they were taken) in one transaction,
/// and says what to push once it has committed: first its reads (<see cref="PrepareAsync"/>), then its
/// transaction (<see cref="CommitAsync"/>). Every step is one statement for the whole group, not one per
/// message: one relationship check, one counter upsert, multi-row inserts, one cursor upsert (and one
/// dedupe query, on a retry). Scoped: the <see cref="SendPipeline"/> makes a new one (and a new DbContext)
/// per group and per attempt.
/// </summary>
internal sealed class GroupWriter(
    MessagingDbContext db,
    [FromKeyedServices(MessagingDbContext.Service)] SnowflakeIds ids,
    RelationshipChecker relationships,
    MessagingOptions options,
    TimeProvider time)
{
    public const int MaxClientMsgIdLength = 64;
    /// <summary>Bounds the receipt events one group receipt sends.</summary>
    private const int MaxGroupSenders = 1000;

    /// <summary>The widest seq range of a group's receipts read together with the others of its conversation.</summary>
    private const long MaxSharedSpan = 4096;

    internal sealed class Item(string gatewayId, ChatSubmission submission)
    {
        public string GatewayId { get; } = gatewayId;
        public ChatSubmission Submission { get; } = submission;
        public ConversationId Conversation { get; set; }
        public string? Error { get; set; }
        public Message? Row { get; set; }
        /// <summary>An earlier item of this group with the same (sender, client_msg_id), or -1.</summary>
        public int SameAs { get; set; } = -1;
        /// <summary>What friends must be asked before this message may be stored (the projection does not hold it).</summary>
        public RelationshipQuery? Ask { get; set; }
        /// <summary>Set aside, not stored and not answered: it waits for friends' answer, or behind one of its connection's that does.</summary>
        public bool Deferred { get; set; }
        /// <summary>Its position in each of its users' streams, once stored (null for a resend found stored earlier).</summary>
        public Dictionary<long, long>? Positions { get; set; }
    }

    internal sealed record Move(long UserId, ConversationId Conversation, long OldArrived, long NewArrived, long OldRead, long NewRead)
    {
        public bool Arrived => NewArrived > OldArrived;
        public bool Read => NewRead > OldRead;
    }

    /// <summary>Counts of what a group did, for logs and tests.</summary>
    public sealed record Result(List<OutgoingPush> Pushes, int Stored, int Refused, int CursorsMoved);

    /// <summary>
    /// A group with everything read that its transaction and pushes need: the items to store (rows without
    /// seqs yet), the receipts' cursor moves, and who hears of them.
    /// </summary>
    public sealed class Prepared
    {
        internal List<Item> Items { get; init; } = [];
        internal List<Item> Accepted { get; init; } = [];
        internal List<Move> Moves { get; init; } = [];
        internal ILookup<long, long>? Members { get; init; }
        /// <summary>When its preparing began: the start of its messages' store spans.</summary>
        internal DateTimeOffset Started { get; init; }
        /// <summary>Who is told what of the receipts (<see cref="Tell"/>).</summary>
        internal List<Told> Told { get; init; } = [];
        /// <summary>The group conversations among the receipts' that are their own streams: their receipts take no positions.</summary>
        internal HashSet<string> ReceiptOwnStreams { get; init; } = [];
        /// <summary>The chat messages set aside (in their order), each with what friends must be asked, if anything.</summary>
        internal List<Item> Deferred { get; init; } = [];
    }

    /// <param name="dedupe">
    /// Whether to look for earlier copies of the messages first. The first attempt does not: resends are
    /// rare, and the unique index on (sender, client_msg_id) fails the transaction of one that slips in, so
    /// the query runs only on the retry that follows, not for every group.
    /// </param>
    public async Task<Result> WriteAsync(IReadOnlyList<WriteWork> group, bool dedupe, Func<IReadOnlyList<WriteWork>, Task>? beforeCommit, CancellationToken ct) =>
        await CommitAsync(group, await PrepareAsync(group, dedupe, ct), beforeCommit, ct);

    /// <summary>
    /// Everything before the transaction, all reads: validation, dedupe (when asked), authorization, the
    /// members of the groups written to, and the receipts' cursors. The <see cref="SendPipeline"/> runs it
    /// for the next group while the one before commits.
    /// </summary>
    /// <param name="askLater">
    /// Set aside (<see cref="Prepared.Deferred"/>) the messages whose relationship the projection does not hold, and
    /// every later message of their connections, instead of asking friends here; otherwise ask inline.
    /// </param>
    public async Task<Prepared> PrepareAsync(IReadOnlyList<WriteWork> group, bool dedupe, CancellationToken ct, bool askLater = false)
    {
        var started = time.GetUtcNow();
        var items = new List<Item>();
        var receipts = new List<Receipt>();
        Dictionary<RelationshipQuery, bool>? answered = null;
        foreach (var work in group)
        {
            if (work is ChatWork chat)
            {
                items.AddRange((chat.Batch.Messages ?? []).Select(s => new Item(chat.Batch.GatewayId ?? "", s)));
                if (chat.Answers is not null)
                {
                    answered ??= [];
                    foreach (var (query, related) in chat.Answers)
                        answered[query] = related;
                }
            }
            else if (work is ReceiptWork receipt)
                receipts.AddRange(receipt.Receipts);
        }
        var accepted = await PrepareChatAsync(items, dedupe, askLater, answered, ct);
        var moves = await PrepareReceiptsAsync(receipts, ct);
        return new Prepared
        {
            Items = items,
            Started = started,
            Accepted = accepted,
            Moves = moves,
            Members = await MembersAsync(items, ct),
            Told = Tell(await ReceiptSendersAsync(moves, ct)),
            ReceiptOwnStreams = await OwnStreamsAsync(moves, ct),
            Deferred = items.Where(i => i.Deferred).ToList(),
        };
    }

    /// <summary>The transaction (seqs, rows, cursors) and, once it has committed, the pushes.</summary>
    public async Task<Result> CommitAsync(IReadOnlyList<WriteWork> group, Prepared prepared, Func<IReadOnlyList<WriteWork>, Task>? beforeCommit, CancellationToken ct)
    {
        var (items, accepted, moves) = (prepared.Items, prepared.Accepted, prepared.Moves);
        long[]? receiptPositions = null;
        if (accepted.Count > 0 || moves.Count > 0)
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            if (accepted.Count > 0)
            {
                var ownStreams = await StoreAsync(accepted, ct);
                await AppendToStreamsAsync(accepted, prepared.Members, ownStreams, ct);
            }
            await MessagingSql.RaiseCursorsAsync(db, CursorRaises(accepted, moves), ct);
            receiptPositions = await AppendReceiptsAsync(prepared, ct);
            if (beforeCommit is not null)
                await beforeCommit(group);
            await transaction.CommitAsync(ct);
            EasyImTelemetry.MessagesStored.Add(accepted.Count);
        }

        var pushes = ChatPushes(items, prepared.Members, prepared.Started);
        ReceiptPushes(prepared, receiptPositions, pushes);
        return new Result(pushes, accepted.Count, items.Count(i => i.Error is not null), moves.Count);
    }

    /// <summary>Validates, dedupes and authorizes; returns the items to store, with their rows (seqs not yet given).</summary>
    private async Task<List<Item>> PrepareChatAsync(List<Item> items, bool dedupe, bool askLater, IReadOnlyDictionary<RelationshipQuery, bool>? answered,
        CancellationToken ct)
    {
        if (items.Count == 0)
            return [];
        var firstByKey = new Dictionary<(long, string), int>();
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            item.Error = Validate(item.Submission, options.MaxContentLength);
            if (item.Error is not null)
                continue;
            var m = item.Submission.Message;
            item.Conversation = m.ChatType == 1 ? ConversationId.ForGroup(m.ToUserId) : ConversationId.ForPair(item.Submission.SenderId, m.ToUserId);
            if (firstByKey.TryGetValue((item.Submission.SenderId, m.ClientMsgId!), out var first))
                item.SameAs = first;
            else
                firstByKey[(item.Submission.SenderId, m.ClientMsgId!)] = i;
        }

        var candidates = items.Where(i => i.Error is null && i.SameAs < 0).ToList();
        if (dedupe)
            await FindOriginalsAsync(candidates, ct);
        var fresh = candidates.Where(i => i.Row is null).ToList();
        await AuthorizeAsync(fresh, askLater, answered, ct);
        if (askLater)
            DeferFollowers(items);
        var accepted = fresh.Where(i => i.Error is null && !i.Deferred).ToList();

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var item in accepted)
        {
            var m = item.Submission.Message;
            item.Row = new Message
            {
                Id = ids.Next(),
                ConversationId = item.Conversation.ToString(),
                SenderId = item.Submission.SenderId,
                ToId = m.ToUserId,
                ClientMsgId = m.ClientMsgId!,
                ChatType = m.ChatType,
                MsgType = m.MsgType,
                Content = m.Content,
                SentAtMs = now,
                Status = MessageStatus.Sent,
            };
        }
        return accepted;
    }

    /// <summary>The first rule a submission breaks, as the error its sender gets, or null.</summary>
    internal static string? Validate(ChatSubmission submission, int maxContentLength)
    {
        var m = submission.Message;
        if (m is null)
            return "the message is missing";
        if (submission.SenderId <= 0)
            return "the sender is unknown";
        if (m.MsgType is < 0 or > 3)
            return "msg_type of a chat message must be 0-3 (TEXT, IMAGE, VOICE, VIDEO)";
        if (m.ChatType is not (0 or 1))
            return "chat_type must be 0 (SINGLE) or 1 (GROUP)";
        if (m.ToUserId <= 0)
            return "to_user_id must be a user id (chat_type 0) or a group id (chat_type 1)";
        if (m.ChatType == 0 && m.ToUserId == submission.SenderId)
            return "to_user_id must be another user";
        if (string.IsNullOrEmpty(m.ClientMsgId))
            return "client_msg_id is required";
        if (m.ClientMsgId.Length > MaxClientMsgIdLength)
            return $"client_msg_id must be at most {MaxClientMsgIdLength} characters";
        if (TextRules.Problem(m.ClientMsgId) is { } idProblem)
            return "client_msg_id " + idProblem;
        if (string.IsNullOrEmpty(m.Content))
            return "content must not be empty";
        if (m.Content.Length > maxContentLength)
            return $"content must be at most {maxContentLength} characters";
        if (TextRules.Problem(m.Content) is { } contentProblem)
            return "content " + contentProblem;
        return null;
    }

    /// <summary>A resent client_msg_id gets the original row, whatever the resend says.</summary>
    private async Task FindOriginalsAsync(List<Item> candidates, CancellationToken ct)
    {
        if (candidates.Count == 0)
            return;
        var senders = candidates.Select(i => i.Submission.SenderId).Distinct().ToList();
        var keys = candidates.Select(i => i.Submission.Message.ClientMsgId!).Distinct().ToList();
        var found = await db.Messages.AsNoTracking()
            .Where(m => senders.Contains(m.SenderId) && keys.Contains(m.ClientMsgId))
            .ToListAsync(ct);
        var byKey = found.ToDictionary(m => (m.SenderId, m.ClientMsgId));
        foreach (var item in candidates)
            item.Row = byKey.GetValueOrDefault((item.Submission.SenderId, item.Submission.Message.ClientMsgId!));
    }

    /// <summary>
    /// A connection's messages are stored in the order it sent them: after one set aside, every later message of its
    /// connection in the group is set aside too (a resend of a message set aside as well), answered or not yet.
    /// </summary>
    private static void DeferFollowers(List<Item> items)
    {
        HashSet<string>? waiting = null;
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (item.Deferred)
            {
                (waiting ??= new HashSet<string>(StringComparer.Ordinal)).Add(item.Submission.ConnectionId);
                continue;
            }
            if (item.Error is not null)
                continue;
            if ((waiting is not null && waiting.Contains(item.Submission.ConnectionId)) || (item.SameAs >= 0 && items[item.SameAs].Deferred))
            {
                item.Deferred = true;
                (waiting ??= new HashSet<string>(StringComparer.Ordinal)).Add(item.Submission.ConnectionId);
            }
        }
    }

    private async Task AuthorizeAsync(List<Item> fresh, bool askLater, IReadOnlyDictionary<RelationshipQuery, bool>? answered, CancellationToken ct)
    {
        if (fresh.Count == 0)
            return;
        var friendPairs = options.RequireFriendship
            ? fresh.Where(i => !i.Conversation.IsGroup).Select(i => (i.Submission.SenderId, i.Submission.Message.ToUserId)).ToHashSet()
            : [];
        var memberPairs = fresh.Where(i => i.Conversation.IsGroup).Select(i => (i.Conversation.GroupId, i.Submission.SenderId)).ToHashSet();
        if (friendPairs.Count == 0 && memberPairs.Count == 0)
            return;
        var known = await relationships.CheckAsync(friendPairs, memberPairs, ct, askLater, answered);
        var unconfirmed = known.Unconfirmed is { Count: > 0 } u ? u.ToHashSet() : null;

        // One-to-one messages to someone who blocks their sender are refused (told only that they are not allowed).
        var directPairs = fresh.Where(i => !i.Conversation.IsGroup).Select(i => (Sender: i.Submission.SenderId, To: i.Submission.Message.ToUserId)).ToList();
        var blocked = directPairs.Count == 0 ? [] : await BlockedAsync(directPairs, ct);
        var groupIds = memberPairs.Select(p => p.GroupId).Distinct().ToList();
        var mutedGroups = groupIds.Count == 0 ? [] : (await db.Groups.AsNoTracking()
            .Where(g => g.Muted && groupIds.Contains(g.GroupId)).Select(g => g.GroupId).ToListAsync(ct)).ToHashSet();

        foreach (var item in fresh)
        {
            var sender = item.Submission.SenderId;
            if (unconfirmed is not null)
            {
                var query = item.Conversation.IsGroup
                    ? new RelationshipQuery(sender, item.Conversation.GroupId, true)
                    : new RelationshipQuery(sender, item.Submission.Message.ToUserId, false);
                if (unconfirmed.Contains(query))
                {
                    item.Ask = query;
                    item.Deferred = true;
                    continue;
                }
            }
            if (!item.Conversation.IsGroup)
            {
                if (options.RequireFriendship && !known.Friends.Contains((sender, item.Submission.Message.ToUserId)))
                    item.Error = "you can only send messages to your friends";
                else if (blocked.Contains((sender, item.Submission.Message.ToUserId)))
                    item.Error = NotAllowed;
            }
            else if (!known.Members.TryGetValue((item.Conversation.GroupId, sender), out var membership))
                item.Error = "you are not a member of this group";
            else if (membership.Muted)
                item.Error = "you are muted in this group";
            else if (mutedGroups.Contains(item.Conversation.GroupId) && !membership.IsOwner)
                item.Error = "this group is muted: only its owner may send";
        }
    }

    /// <summary>The refusal of a message to someone who blocks its sender: it does not say why.</summary>
    public const string NotAllowed = "you are not allowed to send messages to this user";

    /// <summary>The (sender, recipient) pairs among <paramref name="pairs"/> where the recipient blocks the sender: one lookup by the blocked.</summary>
    private async Task<HashSet<(long Sender, long To)>> BlockedAsync(List<(long Sender, long To)> pairs, CancellationToken ct)
    {
        var senders = pairs.Select(p => p.Sender).Distinct().ToList();
        var rows = await db.Blocks.AsNoTracking()
            .Where(b => b.Active && senders.Contains(b.BlockedId))
            .Select(b => new { b.UserId, b.BlockedId })
            .ToListAsync(ct);
        if (rows.Count == 0)
            return [];
        var blocks = rows.Select(r => (Sender: r.BlockedId, To: r.UserId)).ToHashSet();
        return pairs.Where(blocks.Contains).ToHashSet();
    }

    /// <summary>
    /// Each conversation's counter moves by its number of new messages (which locks it until commit on
    /// PostgreSQL), the messages take the seqs in the order they were taken, and they are inserted.
    /// </summary>
    /// <returns>The group conversations among them that are their own streams (<see cref="Conversation.OwnStream"/>).</returns>
    private async Task<HashSet<string>> StoreAsync(List<Item> accepted, CancellationToken ct)
    {
        var byConversation = accepted.GroupBy(i => i.Row!.ConversationId, StringComparer.Ordinal).ToList();
        var ownStreams = new HashSet<string>(StringComparer.Ordinal);
        var lastSeqs = await MessagingSql.AdvanceConversationsAsync(db, byConversation.Select(g =>
        {
            var c = g.First().Conversation;
            var last = g.Last().Row!;
            return new MessagingSql.ConversationAdvance(g.Key, c.ChatType, c.IsGroup ? 0 : c.First, c.IsGroup ? 0 : c.Second,
                c.IsGroup ? c.GroupId : 0, g.Count(), last.Id, last.SentAtMs);
        }), ownStreams, ct);
        foreach (var conversation in byConversation)
        {
            var seq = lastSeqs[conversation.Key] - conversation.Count();
            foreach (var item in conversation)
                item.Row!.ConversationSeq = ++seq;
        }
        await MessagingSql.InsertMessagesAsync(db, accepted.Select(i => i.Row!).ToList(), ct);
        return ownStreams;
    }

    /// <summary>
    /// Every stored message takes the next position in the stream of each user of its conversation (both people of a
    /// one-to-one, every member of a group, its sender included: their other devices see it too), in the order the
    /// group's messages are pushed: one head upsert per user, and one entry per run of a user's consecutive positions
    /// in one conversation. A group with more than <see cref="MessagingOptions.StreamMaxGroupMembers"/> members is left
    /// out: its seqs are its own stream (a row per member per message would be most of a large group's cost). That is
    /// for good: the first such message marks the conversation (<see cref="Conversation.OwnStream"/>), so that a sync
    /// after a position never takes the group for one whose messages are all in the stream, even once it has shrunk.
    /// </summary>
    private async Task AppendToStreamsAsync(List<Item> accepted, ILookup<long, long>? members, HashSet<string> ownStreams, CancellationToken ct)
    {
        List<string>? becameOwn = null;
        var counts = new Dictionary<long, long>();
        var usersOf = new Dictionary<string, long[]>(StringComparer.Ordinal);
        // A group's users are its members and whoever sent to it here (the projection may not have heard of a sender yet).
        var groupSenders = accepted.Where(i => i.Conversation.IsGroup).ToLookup(i => i.Row!.ConversationId, i => i.Row!.SenderId, StringComparer.Ordinal);
        foreach (var item in accepted)
        {
            var row = item.Row!;
            if (!usersOf.TryGetValue(row.ConversationId, out var users))
            {
                var c = item.Conversation;
                users = !c.IsGroup ? [c.First, c.Second]
                    // A large group is its own stream (its seqs): its messages take no position in the members' streams.
                    : ownStreams.Contains(row.ConversationId) || (members is not null && members[c.GroupId].Count() > options.StreamMaxGroupMembers) ? []
                    : (members?[c.GroupId] ?? []).Concat(groupSenders[row.ConversationId]).Distinct().ToArray();
                if (users.Length > options.StreamMaxGroupMembers)
                    users = [];
                if (c.IsGroup && users.Length == 0 && !ownStreams.Contains(row.ConversationId))
                    (becameOwn ??= []).Add(row.ConversationId);
                usersOf[row.ConversationId] = users;
            }
            if (users.Length == 0)
                continue;
            foreach (var user in users)
                counts[user] = counts.GetValueOrDefault(user) + 1;
        }
        if (becameOwn is not null)
            await db.Conversations.Where(c => becameOwn.Contains(c.Id)).ExecuteUpdateAsync(u => u.SetProperty(c => c.OwnStream, true), ct);
        if (counts.Count == 0)
            return;
        var heads = await MessagingSql.AdvanceHeadsAsync(db, counts.Select(c => new MessagingSql.HeadAdvance(c.Key, c.Value)), ct);
        var next = counts.ToDictionary(c => c.Key, c => heads[c.Key] - c.Value + 1);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var entries = new List<StreamEntry>(counts.Count);
        var open = new Dictionary<long, StreamEntry>(counts.Count);
        foreach (var item in accepted)
        {
            var row = item.Row!;
            var users = usersOf[row.ConversationId];
            if (users.Length == 0)
                continue;
            item.Positions = new Dictionary<long, long>(users.Length);
            foreach (var user in users)
            {
                var position = next[user]++;
                item.Positions[user] = position;
                if (open.TryGetValue(user, out var run) && run.ConversationId == row.ConversationId && run.SeqTo == row.ConversationSeq - 1)
                {
                    run.SeqTo = row.ConversationSeq;
                    continue;
                }
                run = new StreamEntry { UserId = user, Position = position, ConversationId = row.ConversationId, SeqFrom = row.ConversationSeq, SeqTo = row.ConversationSeq, CreatedAtMs = now };
                open[user] = run;
                entries.Add(run);
            }
        }
        await MessagingSql.InsertStreamEntriesAsync(db, entries, ct);
    }

    /// <summary>
    /// One upsert for every cursor the group moves: senders past their own messages (what you sent, you
    /// have and have read) and the receipts. One statement, in key order, so that two writers never wait
    /// for each other crosswise.
    /// </summary>
    private static IEnumerable<MessagingSql.CursorRaise> CursorRaises(List<Item> accepted, List<Move> moves)
    {
        var raises = new Dictionary<(long, string), (long Arrived, long Read)>();
        void Raise(long userId, string conversationId, long arrived, long read)
        {
            var (a, r) = raises.GetValueOrDefault((userId, conversationId));
            raises[(userId, conversationId)] = (Math.Max(a, arrived), Math.Max(r, read));
        }
        foreach (var item in accepted)
            Raise(item.Row!.SenderId, item.Row.ConversationId, item.Row.ConversationSeq, item.Row.ConversationSeq);
        foreach (var move in moves)
            Raise(move.UserId, move.Conversation.ToString(), move.NewArrived, move.NewRead);
        return raises.Select(r => new MessagingSql.CursorRaise(r.Key.Item1, r.Key.Item2, r.Value.Arrived, r.Value.Read));
    }

    /// <summary>The members of the groups the items write to (the recipients of their messages).</summary>
    private async Task<ILookup<long, long>?> MembersAsync(List<Item> items, CancellationToken ct)
    {
        var groupIds = items.Where(i => i.Error is null && i.Conversation.IsGroup).Select(i => i.Conversation.GroupId).Distinct().ToList();
        return groupIds.Count == 0 ? null : (await db.GroupMembers.AsNoTracking()
                .Where(m => m.Active && groupIds.Contains(m.GroupId))
                .Select(m => new { m.GroupId, m.UserId })
                .ToListAsync(ct))
            .ToLookup(m => m.GroupId, m => m.UserId);
    }

    /// <summary>
    /// The message's store span, in its own trace (the one its receive span began), from the group's
    /// preparing to its commit; its context goes on with every push of the message.
    /// </summary>
    private static string? StoreSpan(Item item, DateTimeOffset started)
    {
        var span = EasyImTelemetry.StartMessageSpan("chat store", ActivityKind.Internal, item.Submission.TraceParent, started);
        if (span is null)
            return null;
        span.SetTag("easyim.conversation_id", item.Row?.ConversationId);
        span.SetTag("easyim.conversation_seq", item.Row?.ConversationSeq);
        span.SetTag("easyim.message_id", item.Row?.Id);
        if (item.Error is not null)
            span.SetStatus(ActivityStatusCode.Error, item.Error);
        var traceParent = EasyImTelemetry.TraceParentOf(span);
        EasyImTelemetry.Stop(span);
        return traceParent;
    }

    private static List<OutgoingPush> ChatPushes(List<Item> items, ILookup<long, long>? members, DateTimeOffset started)
    {
        var pushes = new List<OutgoingPush>(items.Count * 3);
        foreach (var item in items.Where(i => i.SameAs >= 0))
        {
            item.Row = items[item.SameAs].Row;
            item.Error = items[item.SameAs].Error;
        }
        foreach (var item in items)
        {
            if (item.Deferred)
                continue;
            var s = item.Submission;
            var trace = s.TraceParent is not null && EasyImTelemetry.Tracing ? StoreSpan(item, started) : null;
            if (item.Error is not null || item.Row is null)
            {
                var error = item.Error ?? "the message could not be stored";
                pushes.Add(new(new UserPush(s.SenderId, ServerEvents.Fail(s.SenderId, s.Message ?? new WireMessage(), error), OnlyConnectionId: s.ConnectionId, TraceParent: trace), item.GatewayId));
                continue;
            }
            if (item.SameAs >= 0)
            {
                // The same group already delivers this message: only the ack.
                pushes.Add(new(new UserPush(s.SenderId, ServerEvents.Ack(item.Row, s.Message.Seq), OnlyConnectionId: s.ConnectionId, TraceParent: trace), item.GatewayId));
                continue;
            }
            // A resend (a row found by the dedupe) is pushed like the original: the first pushes may have
            // been lost with a process that died between its commit and its pushes.
            var stored = ServerEvents.Stored(item.Row);
            var senderPosition = Positions(item, [s.SenderId]);
            pushes.Add(new(new UserPush(s.SenderId, stored, AckConnectionId: s.ConnectionId, AckSeq: s.Message.Seq, TraceParent: trace, Positions: senderPosition), item.GatewayId));
            pushes.Add(new(new UserPush(s.SenderId, stored, SkipConnectionId: s.ConnectionId, TraceParent: trace, Positions: senderPosition), Except: item.GatewayId));
            if (item.Row.ChatType != 1)
            {
                pushes.Add(new(new UserPush(item.Row.ToId, stored, TraceParent: trace, Positions: Positions(item, [item.Row.ToId]))));
                continue;
            }
            var recipients = members?[item.Row.ToId].Where(u => u != s.SenderId).ToList() ?? [];
            if (recipients.Count > 0)
                pushes.Add(new(new UserPush(recipients[0], stored, AlsoUserIds: recipients.Count > 1 ? recipients[1..] : null, TraceParent: trace,
                    Positions: Positions(item, recipients))));
        }
        return pushes;
    }

    /// <summary>The message's position in each user's stream, in the users' order; null when it has none (a resend stored earlier).</summary>
    private static IReadOnlyList<long>? Positions(Item item, IReadOnlyList<long> users)
    {
        if (item.Positions is not { } known)
            return null;
        var positions = new long[users.Count];
        for (var i = 0; i < users.Count; i++)
            positions[i] = known.GetValueOrDefault(users[i]);
        return positions;
    }

    /// <summary>
    /// ARRIVED and READ receipts: each moves the user's cursor of the conversation forward (never back;
    /// READ implies ARRIVED); the messages it covers are not touched (see <see cref="DeliveryStates"/>). Receipts for conversations the user is not in, for seq 0, or that move
    /// nothing are dropped without a word: they cannot be answered, and a repeat is normal.
    /// </summary>
    private async Task<List<Move>> PrepareReceiptsAsync(List<Receipt> receipts, CancellationToken ct)
    {
        var wanted = new Dictionary<(long UserId, string ConversationId), (ConversationId Id, long Arrived, long Read)>();
        foreach (var r in receipts)
        {
            if (r is null || r.UserId <= 0 || r.Seq == 0 || r.Status is not (MessageStatus.Arrived or MessageStatus.Read)
                || !ConversationId.TryParse(r.ConversationId, out var id))
                continue;
            var seq = (long)Math.Min(r.Seq, (ulong)long.MaxValue);
            var key = (r.UserId, r.ConversationId);
            var (_, arrived, read) = wanted.GetValueOrDefault(key, (id, 0, 0));
            wanted[key] = (id, Math.Max(arrived, seq), r.Status == MessageStatus.Read ? Math.Max(read, seq) : read);
        }
        if (wanted.Count == 0)
            return [];

        var conversationIds = wanted.Keys.Select(k => k.ConversationId).Distinct().ToList();
        var userIds = wanted.Keys.Select(k => k.UserId).Distinct().ToList();
        var lastSeqs = await db.Conversations.AsNoTracking()
            .Where(c => conversationIds.Contains(c.Id))
            .ToDictionaryAsync(c => c.Id, c => c.LastSeq, StringComparer.Ordinal, ct);
        var groupIds = wanted.Values.Where(w => w.Id.IsGroup).Select(w => w.Id.GroupId).Distinct().ToList();
        var memberships = groupIds.Count == 0 ? [] : (await db.GroupMembers.AsNoTracking()
                .Where(m => m.Active && groupIds.Contains(m.GroupId) && userIds.Contains(m.UserId))
                .Select(m => new { m.GroupId, m.UserId })
                .ToListAsync(ct))
            .Select(m => (m.GroupId, m.UserId)).ToHashSet();
        var cursors = await db.Cursors.AsNoTracking()
            .Where(k => userIds.Contains(k.UserId) && conversationIds.Contains(k.ConversationId))
            .ToDictionaryAsync(k => (k.UserId, k.ConversationId), ct);

        var moves = new List<Move>();
        foreach (var ((userId, conversationId), (id, arrivedUpTo, readUpTo)) in wanted)
        {
            var participant = id.IsGroup ? memberships.Contains((id.GroupId, userId)) : id.HasUser(userId);
            if (!participant || !lastSeqs.TryGetValue(conversationId, out var lastSeq))
                continue;
            // A receipt cannot claim what does not exist yet; READ implies ARRIVED.
            var arrived = Math.Min(Math.Max(arrivedUpTo, readUpTo), lastSeq);
            var read = Math.Min(readUpTo, lastSeq);
            var old = cursors.GetValueOrDefault((userId, conversationId));
            var move = new Move(userId, id, old?.ArrivedSeq ?? 0, Math.Max(old?.ArrivedSeq ?? 0, arrived), old?.ReadSeq ?? 0, Math.Max(old?.ReadSeq ?? 0, read));
            if (move.Arrived || move.Read)
                moves.Add(move);
        }
        return moves;
    }

    /// <summary>
    /// Who hears of each receipt: the peer in one-to-one, whoever sent in the range it covers in a group.
    /// A group's receipts are answered from one read of the messages their ranges span (a 1,000-member
    /// group acknowledges each message a thousand times, mostly the same few seqs); a span wider than
    /// <see cref="MaxSharedSpan"/> (a member back after a long absence) is read for its receipt alone.
    /// </summary>
    private async Task<Dictionary<(Move, int), IReadOnlyList<long>>> ReceiptSendersAsync(List<Move> moves, CancellationToken ct)
    {
        var senders = new Dictionary<(Move, int), IReadOnlyList<long>>();
        var groupRanges = new List<(Move Move, int Status, long After, long UpTo)>();
        foreach (var move in moves)
        {
            if (move.Arrived)
                Add(move, MessageStatus.Arrived, move.OldArrived, move.NewArrived);
            if (move.Read)
                Add(move, MessageStatus.Read, move.OldRead, move.NewRead);
        }

        foreach (var conversation in groupRanges.GroupBy(r => r.Move.Conversation.ToString()))
        {
            var shared = conversation.Where(r => r.UpTo - r.After <= MaxSharedSpan).ToList();
            var alone = conversation.Where(r => r.UpTo - r.After > MaxSharedSpan).ToList();
            if (shared.Count > 0 && shared.Max(r => r.UpTo) - shared.Min(r => r.After) > 4 * MaxSharedSpan)
            {
                // Far apart (members at very different places in the conversation): each read alone.
                alone.AddRange(shared);
                shared.Clear();
            }
            if (shared.Count > 0)
            {
                var after = shared.Min(r => r.After);
                var upTo = shared.Max(r => r.UpTo);
                var id = conversation.Key;
                var rows = await db.Messages.AsNoTracking()
                    .Where(m => m.ConversationId == id && m.ConversationSeq > after && m.ConversationSeq <= upTo)
                    .OrderBy(m => m.ConversationSeq)
                    .Select(m => new { m.ConversationSeq, m.SenderId })
                    .ToListAsync(ct);
                var seqs = rows.Select(r => r.ConversationSeq).ToArray();
                foreach (var range in shared)
                {
                    var found = new List<long>();
                    var start = Array.BinarySearch(seqs, range.After + 1);
                    for (var i = start < 0 ? ~start : start; i < rows.Count && rows[i].ConversationSeq <= range.UpTo && found.Count < MaxGroupSenders; i++)
                    {
                        var sender = rows[i].SenderId;
                        if (sender != range.Move.UserId && !found.Contains(sender))
                            found.Add(sender);
                    }
                    senders[(range.Move, range.Status)] = found;
                }
            }
            foreach (var range in alone)
                senders[(range.Move, range.Status)] = await SendersAsync(range.Move, conversation.Key, range.After, range.UpTo, ct);
        }
        return senders;

        void Add(Move move, int status, long after, long upTo)
        {
            if (move.Conversation.IsGroup)
                groupRanges.Add((move, status, after, upTo));
            else
                senders[(move, status)] = [move.Conversation.PeerOf(move.UserId)];
        }
    }

    /// <summary>
    /// One update to one sender: in one-to-one, a receipt as it came; in a group, every receipt of the group's writer
    /// transaction for the same conversation and status, folded (a 1,000-member group acknowledging a message a thousand
    /// times tells its sender a few times, not a thousand): the highest seq, its reader, and every reader covered.
    /// </summary>
    internal sealed record Told(long Sender, ConversationId Conversation, int Status, long Seq, long Reader, IReadOnlyList<long>? Readers)
    {
        /// <summary>The update as pushed, and as its stream event holds it, at <paramref name="position"/> (0: none).</summary>
        public WireMessage Wire(long position) =>
            ServerEvents.Receipt(Status, Reader, Sender, Conversation.ChatType, Conversation.ToString(), Seq, position, Readers);
    }

    /// <summary>Who is told what of the receipts, in the order their positions are taken.</summary>
    internal static List<Told> Tell(Dictionary<(Move Move, int Status), IReadOnlyList<long>> receiptSenders)
    {
        var told = new List<Told>();
        var groups = new Dictionary<(long Sender, string Conversation, int Status), List<(long Reader, long Seq, ConversationId Id)>>();
        foreach (var ((move, status), senders) in receiptSenders)
        {
            var seq = status == MessageStatus.Read ? move.NewRead : move.NewArrived;
            foreach (var sender in senders)
            {
                if (!move.Conversation.IsGroup)
                {
                    told.Add(new Told(sender, move.Conversation, status, seq, move.UserId, null));
                    continue;
                }
                var key = (sender, move.Conversation.ToString(), status);
                if (!groups.TryGetValue(key, out var readers))
                    groups[key] = readers = [];
                readers.Add((move.UserId, seq, move.Conversation));
            }
        }
        foreach (var ((sender, _, status), readers) in groups.OrderBy(g => g.Key.Sender).ThenBy(g => g.Key.Conversation, StringComparer.Ordinal).ThenBy(g => g.Key.Status))
        {
            var last = readers.MaxBy(r => (r.Seq, r.Reader));
            var all = readers.Count > 1 ? readers.Select(r => r.Reader).Distinct().Order().ToList() : null;
            told.Add(new Told(sender, last.Id, status, last.Seq, last.Reader, all));
        }
        return told;
    }

    /// <summary>The senders of the messages a receipt covers are told.</summary>
    private static void ReceiptPushes(Prepared prepared, long[]? positions, List<OutgoingPush> pushes)
    {
        for (var i = 0; i < prepared.Told.Count; i++)
            pushes.Add(new(new UserPush(prepared.Told[i].Sender, prepared.Told[i].Wire(positions?[i] ?? 0))));
    }

    /// <summary>
    /// Each receipt update is an update of the stream of the sender it tells (issue 14): the sender's next position, after
    /// the group's messages, and a stream event holding it, so a device that missed its push gets it by a sync after its
    /// position. A group that is its own stream (<see cref="Conversation.OwnStream"/>) is left out, as its messages are.
    /// </summary>
    /// <returns>The position of each of <see cref="Prepared.Told"/> (0: none), or null when none takes one.</returns>
    private async Task<long[]?> AppendReceiptsAsync(Prepared prepared, CancellationToken ct)
    {
        var told = prepared.Told;
        var inStream = told.Select(t => !prepared.ReceiptOwnStreams.Contains(t.Conversation.ToString())).ToArray();
        var counts = told.Where((_, i) => inStream[i]).GroupBy(t => t.Sender).Select(g => new MessagingSql.HeadAdvance(g.Key, g.Count())).ToList();
        if (counts.Count == 0)
            return null;
        var heads = await MessagingSql.AdvanceHeadsAsync(db, counts, ct);
        var next = counts.ToDictionary(c => c.UserId, c => heads[c.UserId] - c.Count + 1);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var positions = new long[told.Count];
        var rows = new List<StreamEvent>(told.Count);
        for (var i = 0; i < told.Count; i++)
        {
            if (!inStream[i])
                continue;
            var position = positions[i] = next[told[i].Sender]++;
            rows.Add(new StreamEvent
            {
                UserId = told[i].Sender,
                Position = position,
                EventId = Guid.CreateVersion7(),
                FromUserId = told[i].Reader,
                Content = ClientEventJson.Serialize(told[i].Wire(position).Event!),
                CreatedAtMs = now,
            });
        }
        await MessagingSql.InsertStreamEventsAsync(db, rows, ct);
        return positions;
    }

    /// <summary>The group conversations among the receipts' that are their own streams (<see cref="Conversation.OwnStream"/>).</summary>
    private async Task<HashSet<string>> OwnStreamsAsync(List<Move> moves, CancellationToken ct)
    {
        var groups = moves.Where(m => m.Conversation.IsGroup).Select(m => m.Conversation.ToString()).Distinct().ToList();
        if (groups.Count == 0)
            return [];
        var own = await db.Conversations.AsNoTracking().Where(c => groups.Contains(c.Id) && c.OwnStream).Select(c => c.Id).ToListAsync(ct);
        return own.ToHashSet(StringComparer.Ordinal);
    }

    private async Task<IReadOnlyList<long>> SendersAsync(Move move, string conversationId, long after, long upTo, CancellationToken ct) =>
        await db.Messages.AsNoTracking()
            .Where(m => m.ConversationId == conversationId && m.ConversationSeq > after && m.ConversationSeq <= upTo && m.SenderId != move.UserId)
            .Select(m => m.SenderId)
            .Distinct()
            .OrderBy(id => id)
            .Take(MaxGroupSenders)
            .ToListAsync(ct);
}
