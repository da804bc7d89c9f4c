using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Hosting.Ids;
using EasyIm.Messaging.Authorization;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Delivery;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// The send path, a gateway's batch at a time: validate, dedupe on (sender, client_msg_id), authorize,
/// number and store the whole batch in one transaction, and only after it commits push the SENT acks,
/// the FAILs, and the messages to the recipients and the senders' other connections.
/// <para>
/// There is no outbox: if the process dies between the commit and the pushes, the bus redelivers the
/// batch (or the client resends), the dedupe finds the stored rows, and the pushes go out then. So a
/// duplicate is answered exactly like the original, recipients included.
/// </para>
/// </summary>
public sealed class SubmitChatMessagesConsumer(
    MessagingDbContext db,
    [FromKeyedServices(MessagingDbContext.Service)] SnowflakeIds ids,
    RelationshipChecker relationships,
    PushDispatcher dispatcher,
    MessagingOptions options,
    TimeProvider time,
    ILogger<SubmitChatMessagesConsumer> logger) : IConsumer<SubmitChatMessages>
{
    public const int MaxClientMsgIdLength = 64;

    private sealed class Item(ChatSubmission submission)
    {
        public ChatSubmission Submission { get; } = submission;
        public ConversationId Conversation { get; set; }
        public string? Error { get; set; }
        public Message? Row { get; set; }
        /// <summary>An earlier item of this batch with the same (sender, client_msg_id), or -1.</summary>
        public int SameAs { get; set; } = -1;
    }

    public async Task Consume(ConsumeContext<SubmitChatMessages> context)
    {
        var batch = context.Message;
        var ct = context.CancellationToken;
        var items = batch.Messages.Select(s => new Item(s)).ToArray();

        var firstByKey = new Dictionary<(long, string), int>();
        for (var i = 0; i < items.Length; i++)
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
        await FindOriginalsAsync(candidates, ct);
        var fresh = candidates.Where(i => i.Row is null).ToList();
        await AuthorizeAsync(fresh, ct);
        var accepted = fresh.Where(i => i.Error is null).ToList();
        if (accepted.Count > 0)
            await StoreAsync(accepted, ct);

        foreach (var item in items.Where(i => i.SameAs >= 0))
        {
            item.Row = items[item.SameAs].Row;
            item.Error = items[item.SameAs].Error;
        }
        await dispatcher.DispatchAsync(context, await PushesAsync(batch.GatewayId, items, ct));
        logger.LogDebug("Batch of {Count} from gateway {GatewayId}: {Stored} stored, {Refused} refused",
            items.Length, batch.GatewayId, accepted.Count, items.Count(i => i.Error is not null));
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
        if (string.IsNullOrEmpty(m.Content))
            return "content must not be empty";
        if (m.Content.Length > maxContentLength)
            return $"content must be at most {maxContentLength} characters";
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

    private async Task AuthorizeAsync(List<Item> fresh, CancellationToken ct)
    {
        if (fresh.Count == 0)
            return;
        var friendPairs = options.RequireFriendship
            ? fresh.Where(i => !i.Conversation.IsGroup).Select(i => (i.Submission.SenderId, i.Submission.Message.ToUserId)).ToHashSet()
            : [];
        var memberPairs = fresh.Where(i => i.Conversation.IsGroup).Select(i => (i.Conversation.GroupId, i.Submission.SenderId)).ToHashSet();
        var known = await relationships.CheckAsync(friendPairs, memberPairs, ct);

        var groupIds = memberPairs.Select(p => p.GroupId).Distinct().ToList();
        var mutedGroups = groupIds.Count == 0 ? [] : (await db.Groups.AsNoTracking()
            .Where(g => g.Muted && groupIds.Contains(g.GroupId)).Select(g => g.GroupId).ToListAsync(ct)).ToHashSet();

        foreach (var item in fresh)
        {
            var sender = item.Submission.SenderId;
            if (!item.Conversation.IsGroup)
            {
                if (options.RequireFriendship && !known.Friends.Contains((sender, item.Submission.Message.ToUserId)))
                    item.Error = "you can only send messages to your friends";
            }
            else if (!known.Members.TryGetValue((item.Conversation.GroupId, sender), out var membership))
                item.Error = "you are not a member of this group";
            else if (membership.Muted)
                item.Error = "you are muted in this group";
            else if (mutedGroups.Contains(item.Conversation.GroupId) && !membership.IsOwner)
                item.Error = "this group is muted: only its owner may send";
        }
    }

    /// <summary>
    /// One transaction for the batch: each conversation's counter moves by its number of new messages
    /// (which locks it until commit), the messages take the seqs in arrival order, and the senders'
    /// cursors move past their own messages (what you sent, you have, and have read).
    /// </summary>
    private async Task StoreAsync(List<Item> accepted, CancellationToken ct)
    {
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
        var byConversation = accepted.GroupBy(i => i.Row!.ConversationId, StringComparer.Ordinal).ToList();

        try
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            var lastSeqs = await MessagingSql.AdvanceConversationsAsync(db, byConversation.Select(g =>
            {
                var c = g.First().Conversation;
                var last = g.Last().Row!;
                return new MessagingSql.ConversationAdvance(g.Key, c.ChatType, c.IsGroup ? 0 : c.First, c.IsGroup ? 0 : c.Second,
                    c.IsGroup ? c.GroupId : 0, g.Count(), last.Id, last.SentAtMs);
            }), ct);
            foreach (var group in byConversation)
            {
                var seq = lastSeqs[group.Key] - group.Count();
                foreach (var item in group)
                    item.Row!.ConversationSeq = ++seq;
            }
            db.Messages.AddRange(accepted.Select(i => i.Row!));
            await db.SaveChangesAsync(ct);
            await MessagingSql.RaiseCursorsAsync(db, accepted
                .GroupBy(i => (i.Row!.SenderId, i.Row.ConversationId))
                .Select(g => new MessagingSql.CursorRaise(g.Key.SenderId, g.Key.ConversationId, g.Max(i => i.Row!.ConversationSeq), g.Max(i => i.Row!.ConversationSeq))), ct);
            await transaction.CommitAsync(ct);
        }
        finally
        {
            // A failed batch is retried from the start (see the definition), maybe in this same scope:
            // no entity of this attempt may be saved by the next.
            db.ChangeTracker.Clear();
        }
    }

    private async Task<List<OutgoingPush>> PushesAsync(string gatewayId, Item[] items, CancellationToken ct)
    {
        var groupIds = items.Where(i => i.Error is null && i.Conversation.IsGroup).Select(i => i.Conversation.GroupId).Distinct().ToList();
        var members = groupIds.Count == 0 ? null : (await db.GroupMembers.AsNoTracking()
                .Where(m => m.Active && groupIds.Contains(m.GroupId))
                .Select(m => new { m.GroupId, m.UserId })
                .ToListAsync(ct))
            .ToLookup(m => m.GroupId, m => m.UserId);

        var pushes = new List<OutgoingPush>(items.Length * 3);
        foreach (var item in items)
        {
            var s = item.Submission;
            if (item.Error is not null || item.Row is null)
            {
                var error = item.Error ?? "the message could not be stored";
                pushes.Add(new(new UserPush(s.SenderId, ServerEvents.Fail(s.SenderId, s.Message ?? new WireMessage(), error), OnlyConnectionId: s.ConnectionId), gatewayId));
                continue;
            }
            var stored = ServerEvents.Stored(item.Row);
            pushes.Add(new(new UserPush(s.SenderId, ServerEvents.Ack(item.Row, s.Message.Seq), OnlyConnectionId: s.ConnectionId), gatewayId));
            if (item.SameAs >= 0)
                continue; // the same batch already delivers this message
            pushes.Add(new(new UserPush(s.SenderId, stored, SkipConnectionId: s.ConnectionId), gatewayId));
            IEnumerable<long> recipients = item.Row.ChatType == 1
                ? members?[item.Row.ToId].Where(u => u != s.SenderId) ?? []
                : [item.Row.ToId];
            foreach (var recipient in recipients)
                pushes.Add(new(new UserPush(recipient, stored)));
        }
        return pushes;
    }
}

/// <summary>
/// A batch that loses a race (a concurrent resend of the same client_msg_id, a deadlock, a busy SQLite
/// file) is run again from the start, where the dedupe or the freed lock settles it.
/// </summary>
public sealed class SubmitChatMessagesConsumerDefinition : ConsumerDefinition<SubmitChatMessagesConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<SubmitChatMessagesConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(DatabaseRetry.Configure);
}
