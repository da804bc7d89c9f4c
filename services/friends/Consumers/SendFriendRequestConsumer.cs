using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Friends.Data;
using EasyIm.Friends.Events;
using EasyIm.Friends.Users;
using EasyIm.Hosting.Ids;
using EasyIm.Hosting.Outbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.Friends.Consumers;

/// <summary>
/// A friend invitation. Refused: to oneself (400), to an unknown user (404), to a friend (409),
/// while one from the same inviter is pending (409), and while the invitee has invited the
/// inviter (409: accepting that request is the way, and it says which), and while the inviter has
/// <see cref="FriendsOptions.MaxPendingFriendRequests"/> requests waiting for an answer (429), and between a user and
/// one who blocks them or whom they block (403; the blocked is told only that it is not allowed). The
/// invitee's live connections get FRIEND_INVITE.
/// </summary>
public sealed class SendFriendRequestConsumer(
    FriendsDbContext db,
    UserDirectory users,
    [FromKeyedServices(FriendsDbContext.Service)] SnowflakeIds ids,
    TimeProvider time,
    FriendsOptions options,
    Outbox<FriendsDbContext> outbox,
    UpdateStream updates) : IConsumer<SendFriendRequest>
{
    public async Task Consume(ConsumeContext<SendFriendRequest> context)
    {
        var (from, to, message) = context.Message;
        var ct = context.CancellationToken;
        message = string.IsNullOrWhiteSpace(message) ? null : message;

        if (await FindRedeliveredAsync(context) is { } earlier)
        {
            // Its event was stored with it by the first delivery: only the answer is owed.
            await AnnounceAsync(context, earlier);
            return;
        }
        if (FriendRules.CheckMessage(message) is { } broken)
        {
            await context.RespondAsync(new RequestRejected(400, broken.Message, broken.Field));
            return;
        }
        if (from == to)
        {
            await context.RespondAsync(new RequestRejected(400, "you cannot invite yourself", "to_user_id"));
            return;
        }
        var known = await users.FindAsync([from, to], ct);
        if (!known.ContainsKey(to))
        {
            await context.RespondAsync(new RequestRejected(404, $"user {to} does not exist", "to_user_id"));
            return;
        }
        if (!known.ContainsKey(from))
        {
            await context.RespondAsync(new RequestRejected(404, $"user {from} does not exist", "from_user_id"));
            return;
        }
        // A block either way: the invitee's is not named as one (the inviter is only not allowed); the inviter's own is.
        var blocks = await db.Blocks.AsNoTracking()
            .Where(b => (b.UserId == to && b.BlockedId == from) || (b.UserId == from && b.BlockedId == to))
            .Select(b => b.UserId).ToListAsync(ct);
        if (blocks.Contains(to))
        {
            await context.RespondAsync(new RequestRejected(403, "you are not allowed to invite this user", "to_user_id"));
            return;
        }
        if (blocks.Contains(from))
        {
            await context.RespondAsync(new RequestRejected(403, "you have blocked this user: unblock them first", "to_user_id"));
            return;
        }
        if (await ConflictAsync(from, to, ct) is { } refused)
        {
            await context.RespondAsync(refused);
            return;
        }
        // Counted on the pending-pair index (its leading column is the inviter). Requests racing this one
        // may each pass before any is stored: the cap holds up to the inviter's requests in flight.
        var waiting = await db.FriendRequests.CountAsync(r => r.FromUserId == from && r.Status == FriendRequestStatus.Pending, ct);
        if (waiting >= options.MaxPendingFriendRequests)
        {
            await context.RespondAsync(new RequestRejected(429,
                $"you have {waiting} friend requests waiting for an answer, as many as may wait; invite more once some are answered"));
            return;
        }

        var request = new FriendRequest
        {
            Id = ids.Next(),
            FromUserId = from,
            ToUserId = to,
            Message = message,
            Status = FriendRequestStatus.Pending,
            CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
            CommandId = context.MessageId,
        };
        db.FriendRequests.Add(request);
        // The invitation's event commits with it (the invitee's update stream, its push in the outbox).
        await updates.AppendAsync([(request.ToUserId, ServerEvents.Invite(request.Id, request.FromUserId, request.ToUserId, request.Message))], ct);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // The pending-pair or command unique index caught a racing twin: answer as it deserves.
            db.ChangeTracker.Clear();
            outbox.Discard();
            if (await FindRedeliveredAsync(context) is { } twin)
            {
                await AnnounceAsync(context, twin);
                return;
            }
            if (await ConflictAsync(from, to, ct) is not { } conflict)
                throw;
            await context.RespondAsync(conflict);
            return;
        }
        await AnnounceAsync(context, request);
    }

    private async Task<FriendRequest?> FindRedeliveredAsync(ConsumeContext<SendFriendRequest> context)
    {
        if (context.MessageId is not { } messageId)
            return null;
        return await db.FriendRequests.AsNoTracking().FirstOrDefaultAsync(r => r.CommandId == messageId, context.CancellationToken);
    }

    private async Task<RequestRejected?> ConflictAsync(long from, long to, CancellationToken ct)
    {
        if (await db.Friendships.AnyAsync(f => f.UserId == from && f.FriendId == to, ct))
            return new RequestRejected(409, $"user {to} is already your friend", "to_user_id");
        var pending = await db.FriendRequests.AsNoTracking()
            .Where(r => r.Status == FriendRequestStatus.Pending
                && ((r.FromUserId == from && r.ToUserId == to) || (r.FromUserId == to && r.ToUserId == from)))
            .Select(r => new { r.Id, r.FromUserId })
            .FirstOrDefaultAsync(ct);
        if (pending is null)
            return null;
        return pending.FromUserId == from
            ? new RequestRejected(409, $"you have already invited user {to}; the request {pending.Id} is pending", "to_user_id")
            : new RequestRejected(409, $"user {to} has already invited you: accept their request {pending.Id} instead", "to_user_id");
    }

    private async Task AnnounceAsync(ConsumeContext<SendFriendRequest> context, FriendRequest request)
    {
        await outbox.PublishAsync(context, context.CancellationToken);
        await context.RespondAsync(new FriendRequestSent(request.Id, request.FromUserId, request.ToUserId));
    }
}
