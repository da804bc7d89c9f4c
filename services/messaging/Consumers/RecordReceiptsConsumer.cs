using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Delivery;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// ARRIVED and READ receipts, a gateway's batch at a time: each moves the user's cursor of the
/// conversation forward (never back; READ implies ARRIVED), marks the one-to-one messages it covers,
/// and tells the senders of those messages. Receipts for conversations the user is not in, for seq 0,
/// or that move nothing are dropped without a word: they cannot be answered, and a repeat is normal.
/// </summary>
public sealed class RecordReceiptsConsumer(
    MessagingDbContext db,
    PushDispatcher dispatcher,
    TimeProvider time,
    ILogger<RecordReceiptsConsumer> logger) : IConsumer<RecordReceipts>
{
    /// <summary>Bounds the receipt events one group receipt sends.</summary>
    private const int MaxGroupSenders = 1000;

    private sealed record Move(long UserId, ConversationId Conversation, long OldArrived, long NewArrived, long OldRead, long NewRead)
    {
        public bool Arrived => NewArrived > OldArrived;
        public bool Read => NewRead > OldRead;
    }

    public async Task Consume(ConsumeContext<RecordReceipts> context)
    {
        var ct = context.CancellationToken;
        var wanted = new Dictionary<(long UserId, string ConversationId), (ConversationId Id, long Arrived, long Read)>();
        foreach (var r in context.Message.Receipts ?? [])
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
            return;

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
        if (moves.Count == 0)
            return;

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using (var transaction = await db.Database.BeginTransactionAsync(ct))
        {
            await MessagingSql.RaiseCursorsAsync(db,
                moves.Select(m => new MessagingSql.CursorRaise(m.UserId, m.Conversation.ToString(), m.NewArrived, m.NewRead)), ct);
            foreach (var move in moves.Where(m => !m.Conversation.IsGroup))
                await MarkAsync(move, now, ct);
            await transaction.CommitAsync(ct);
        }

        var pushes = new List<OutgoingPush>();
        foreach (var move in moves)
        {
            var conversationId = move.Conversation.ToString();
            if (move.Arrived)
                foreach (var sender in await SendersAsync(move, conversationId, move.OldArrived, move.NewArrived, ct))
                    pushes.Add(new(new UserPush(sender, ServerEvents.Receipt(MessageStatus.Arrived, move.UserId, sender, move.Conversation.ChatType, conversationId, move.NewArrived))));
            if (move.Read)
                foreach (var sender in await SendersAsync(move, conversationId, move.OldRead, move.NewRead, ct))
                    pushes.Add(new(new UserPush(sender, ServerEvents.Receipt(MessageStatus.Read, move.UserId, sender, move.Conversation.ChatType, conversationId, move.NewRead))));
        }
        await dispatcher.DispatchAsync(context, pushes);
        logger.LogDebug("Receipts: {Count} cursors moved", moves.Count);
    }

    /// <summary>Marks the peer's messages the receipt covers; only rows not already at that status are touched.</summary>
    private async Task MarkAsync(Move move, long now, CancellationToken ct)
    {
        var conversationId = move.Conversation.ToString();
        var messages = db.Messages.Where(m => m.ConversationId == conversationId && m.SenderId != move.UserId);
        if (move.Arrived)
        {
            await messages
                .Where(m => m.ConversationSeq > move.OldArrived && m.ConversationSeq <= move.NewArrived && m.Status < MessageStatus.Arrived)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(m => m.Status, MessageStatus.Arrived)
                    .SetProperty(m => m.ArrivedAtMs, m => m.ArrivedAtMs ?? now), ct);
        }
        if (move.Read)
        {
            await messages
                .Where(m => m.ConversationSeq > move.OldRead && m.ConversationSeq <= move.NewRead && m.Status < MessageStatus.Read)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(m => m.Status, MessageStatus.Read)
                    .SetProperty(m => m.ArrivedAtMs, m => m.ArrivedAtMs ?? now)
                    .SetProperty(m => m.ReadAtMs, now), ct);
        }
    }

    /// <summary>Who to tell: the peer of a one-to-one conversation; in a group, whoever sent in the range.</summary>
    private async Task<IReadOnlyList<long>> SendersAsync(Move move, string conversationId, long after, long upTo, CancellationToken ct)
    {
        if (!move.Conversation.IsGroup)
            return [move.Conversation.PeerOf(move.UserId)];
        return await db.Messages.AsNoTracking()
            .Where(m => m.ConversationId == conversationId && m.ConversationSeq > after && m.ConversationSeq <= upTo && m.SenderId != move.UserId)
            .Select(m => m.SenderId)
            .Distinct()
            .Take(MaxGroupSenders)
            .ToListAsync(ct);
    }
}

public sealed class RecordReceiptsConsumerDefinition : ConsumerDefinition<RecordReceiptsConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<RecordReceiptsConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(DatabaseRetry.Configure);
}
