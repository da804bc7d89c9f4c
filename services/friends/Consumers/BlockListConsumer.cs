using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;
using EasyIm.Friends.Events;
using EasyIm.Friends.Users;
using EasyIm.Hosting.Outbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>
/// A user's block list. A block refuses the blocked user's friend and group invitations to the blocker here, and their
/// messages and typing to the blocker in messaging (its projection, fed by <see cref="UserBlockChanged"/>, applied before
/// the answer like a friendship). It does not end a friendship: unblocking lets the two talk again as before. Blocking
/// declines the blocked user's pending invitation to the blocker.
/// </summary>
public sealed class BlockListConsumer(
    FriendsDbContext db,
    UserDirectory users,
    MessagingProjection projection,
    Outbox<FriendsDbContext> outbox,
    FriendsOptions options,
    TimeProvider time) :
    IConsumer<BlockUser>,
    IConsumer<UnblockUser>,
    IConsumer<ListBlockedUsers>
{
    public async Task Consume(ConsumeContext<BlockUser> context)
    {
        var (me, other) = context.Message;
        var ct = context.CancellationToken;
        if (me == other)
        {
            await context.RespondAsync(new RequestRejected(400, "you cannot block yourself", "user_id"));
            return;
        }
        if (!(await users.FindAsync([other], ct)).ContainsKey(other))
        {
            await context.RespondAsync(new RequestRejected(404, $"user {other} does not exist", "user_id"));
            return;
        }
        if (await db.Blocks.AnyAsync(b => b.UserId == me && b.BlockedId == other, ct))
        {
            await context.RespondAsync(new BlockChanged(me, other, true));
            return;
        }
        var blocked = await db.Blocks.CountAsync(b => b.UserId == me, ct);
        if (blocked >= options.MaxBlockedUsers)
        {
            await context.RespondAsync(new RequestRejected(429,
                $"you block {blocked} users, as many as one may (Friends:MaxBlockedUsers); unblock some first", "user_id"));
            return;
        }
        var now = time.GetUtcNow();
        db.Blocks.Add(new Block { UserId = me, BlockedId = other, CreatedAtMs = now.ToUnixTimeMilliseconds() });
        foreach (var pending in await db.FriendRequests
                     .Where(r => r.FromUserId == other && r.ToUserId == me && r.Status == FriendRequestStatus.Pending).ToListAsync(ct))
            pending.Status = FriendRequestStatus.Rejected;
        await ChangedAsync(context, new UserBlockChanged(me, other, true, now), ct);
    }

    public async Task Consume(ConsumeContext<UnblockUser> context)
    {
        var (me, other) = context.Message;
        var ct = context.CancellationToken;
        var row = await db.Blocks.FirstOrDefaultAsync(b => b.UserId == me && b.BlockedId == other, ct);
        if (row is null)
        {
            await context.RespondAsync(new RequestRejected(404, $"user {other} is not blocked", "user_id"));
            return;
        }
        db.Blocks.Remove(row);
        await ChangedAsync(context, new UserBlockChanged(me, other, false, time.GetUtcNow()), ct);
    }

    public async Task Consume(ConsumeContext<ListBlockedUsers> context)
    {
        var me = context.Message.UserId;
        var blocked = await (
                from b in db.Blocks
                where b.UserId == me
                join u in db.Users on b.BlockedId equals u.Id
                orderby b.CreatedAtMs descending, u.Id
                select new UserInfo(u.Id, u.Account, u.Nickname, u.Avatar))
            .AsNoTracking()
            .ToListAsync(context.CancellationToken);
        await context.RespondAsync(new UserList(blocked));
    }

    /// <summary>Stores the change with its event (the outbox), applies it to messaging's projection, then announces and answers.</summary>
    private async Task ChangedAsync<T>(ConsumeContext<T> context, UserBlockChanged changed, CancellationToken ct) where T : class
    {
        outbox.Add(changed);
        // Two blocks racing: the second insert fails on the key, and its retry finds the block.
        await db.SaveChangesAsync(ct);
        await projection.ApplyAsync(changed, ct);
        await outbox.PublishAsync(context, ct);
        await context.RespondAsync(new BlockChanged(changed.UserId, changed.BlockedId, changed.Blocked));
    }
}
