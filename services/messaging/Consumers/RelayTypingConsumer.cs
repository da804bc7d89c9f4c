using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Authorization;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Delivery;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// TYPING: relayed to the peer (between friends) or to the group's other members (from a member),
/// never stored, never replayed. A TYPING nobody may receive is dropped silently: there is nothing to
/// tell its sender that would help.
/// </summary>
public sealed class RelayTypingConsumer(
    MessagingDbContext db,
    RelationshipChecker relationships,
    PushDispatcher dispatcher,
    MessagingOptions options) : IConsumer<RelayTyping>
{
    public async Task Consume(ConsumeContext<RelayTyping> context)
    {
        var (from, _, toId, chatType) = context.Message;
        var ct = context.CancellationToken;
        if (from <= 0 || toId <= 0)
            return;

        if (chatType == 0)
        {
            if (toId == from)
                return;
            if (options.RequireFriendship)
            {
                var known = await relationships.CheckAsync([(from, toId)], [], ct);
                if (!known.Friends.Contains((from, toId)))
                    return;
            }
            // Not to someone who blocks the typist: dropped like a TYPING to a stranger, so the block is not told.
            if (await db.Blocks.AsNoTracking().AnyAsync(b => b.UserId == toId && b.BlockedId == from && b.Active, ct))
                return;
            var conversation = ConversationId.ForPair(from, toId).ToString();
            await dispatcher.DispatchAsync(context, [new OutgoingPush(new UserPush(toId, ServerEvents.Typing(from, toId, 0, conversation)))]);
        }
        else if (chatType == 1)
        {
            var known = await relationships.CheckAsync([], [(toId, from)], ct);
            if (!known.Members.ContainsKey((toId, from)))
                return;
            var conversation = ConversationId.ForGroup(toId).ToString();
            var members = await db.GroupMembers.AsNoTracking()
                .Where(m => m.GroupId == toId && m.Active && m.UserId != from)
                .Select(m => m.UserId)
                .ToListAsync(ct);
            var typing = ServerEvents.Typing(from, toId, 1, conversation);
            await dispatcher.DispatchAsync(context, members.Select(u => new OutgoingPush(new UserPush(u, typing))).ToList());
        }
    }
}
