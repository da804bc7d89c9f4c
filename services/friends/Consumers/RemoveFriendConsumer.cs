using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Friends.Data;
using EasyIm.Friends.Events;
using EasyIm.Hosting.Outbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>
/// Ends a friendship for both sides; <see cref="FriendshipRemoved"/> is published once for it, and both
/// users' live connections get FRIEND_REMOVE (so a chat list drops the other at once, on every device).
/// </summary>
public sealed class RemoveFriendConsumer(FriendsDbContext db, MessagingProjection projection, Outbox<FriendsDbContext> outbox, UpdateStream updates,
    TimeProvider time)
    : IConsumer<RemoveFriend>
{
    public async Task Consume(ConsumeContext<RemoveFriend> context)
    {
        var (me, friend) = context.Message;
        if (me == friend)
        {
            await context.RespondAsync(new RequestRejected(400, "you cannot remove yourself", "friend_id"));
            return;
        }
        var rows = await db.Friendships
            .Where(f => (f.UserId == me && f.FriendId == friend) || (f.UserId == friend && f.FriendId == me))
            .ToListAsync(context.CancellationToken);
        if (rows.Count == 0)
        {
            await context.RespondAsync(new RequestRejected(404, $"user {friend} is not your friend", "friend_id"));
            return;
        }
        db.Friendships.RemoveRange(rows);
        // The events commit with the removal (the outbox): a failed publish or a crash after the commit delays
        // them, and the request is not retried into a 404 for a removal that happened.
        var removed = new FriendshipRemoved(me, friend, time.GetUtcNow());
        outbox.Add(removed);
        await updates.AppendAsync([
            (friend, ServerEvents.FriendRemoved(me, friend, me)),
            (me, ServerEvents.FriendRemoved(me, me, friend)),
        ], context.CancellationToken);
        // Of two removals racing, the second deletes nothing, throws, and is retried to find no friendship.
        await db.SaveChangesAsync(context.CancellationToken);

        // Applied first, then announced: a message sent after the answer is refused as to a stranger.
        await projection.ApplyAsync(removed, context.CancellationToken);
        await outbox.PublishAsync(context, context.CancellationToken);
        await context.RespondAsync(new FriendRemoved(me, friend));
    }
}
