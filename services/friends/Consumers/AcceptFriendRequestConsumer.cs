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
/// The invitee accepts, naming the request or the inviter. The friendship is stored both ways,
/// <see cref="FriendshipCreated"/> is published once for it, and the inviter's live connections
/// get FRIEND_AGREE, whether the accept came over the socket or over HTTP.
/// </summary>
public sealed class AcceptFriendRequestConsumer(FriendsDbContext db, TimeProvider time, MessagingProjection projection, Outbox<FriendsDbContext> outbox,
    UpdateStream updates)
    : IConsumer<AcceptFriendRequest>
{
    public async Task Consume(ConsumeContext<AcceptFriendRequest> context)
    {
        var (me, requestId, inviterId) = context.Message;
        var ct = context.CancellationToken;
        var messageId = context.MessageId;

        FriendRequest? request;
        string field;
        if (requestId is { } id)
        {
            field = "id";
            request = await db.FriendRequests.FirstOrDefaultAsync(r => r.Id == id, ct);
        }
        else if (inviterId is { } inviter)
        {
            field = "from_user_id";
            request = await db.FriendRequests
                .Where(r => r.FromUserId == inviter && r.ToUserId == me
                    && (r.Status == FriendRequestStatus.Pending || (messageId != null && r.AnswerCommandId == messageId)))
                .OrderByDescending(r => r.CreatedAtMs)
                .FirstOrDefaultAsync(ct);
        }
        else
        {
            await context.RespondAsync(new RequestRejected(400, "id (the request) or from_user_id (the inviter) is required", "id"));
            return;
        }

        if (request is null)
        {
            await context.RespondAsync(new RequestRejected(404, "no such pending friend request to you", field));
            return;
        }
        if (request.ToUserId != me)
        {
            await context.RespondAsync(new RequestRejected(403, "only the invitee may accept a friend request", field));
            return;
        }
        if (request.Status == FriendRequestStatus.Accepted && messageId is not null && request.AnswerCommandId == messageId)
        {
            // A redelivery of the accept that did it: its events were stored with it (the outbox publishes them);
            // the projection is told again, at the accept's own time, so a later removal still wins.
            await AnnounceAsync(context, request, Created(request));
            return;
        }
        if (request.Status != FriendRequestStatus.Pending)
        {
            await context.RespondAsync(new RequestRejected(409, $"the friend request was already {request.Status.ToString().ToLowerInvariant()}", field));
            return;
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        request.Status = FriendRequestStatus.Accepted;
        request.AnsweredAtMs = now;
        request.AnswerCommandId = messageId;
        var (a, b) = (request.FromUserId, request.ToUserId);
        var existing = await db.Friendships
            .Where(f => (f.UserId == a && f.FriendId == b) || (f.UserId == b && f.FriendId == a))
            .Select(f => f.UserId)
            .ToListAsync(ct);
        // Both rows exist when each had invited the other and an earlier accept made them friends.
        var created = existing.Count < 2;
        if (!existing.Contains(a))
            db.Friendships.Add(new Friendship { UserId = a, FriendId = b, CreatedAtMs = now });
        if (!existing.Contains(b))
            db.Friendships.Add(new Friendship { UserId = b, FriendId = a, CreatedAtMs = now });
        // Its events commit with it (the outbox): published after, or by the relay if that fails.
        var friendship = await StageAsync(request, created, ct);
        // The status is a concurrency token: of two answers racing, the second throws here and is
        // retried (FriendsConsumerDefinition), to find the request answered.
        await db.SaveChangesAsync(ct);
        await AnnounceAsync(context, request, friendship);
    }

    private FriendshipCreated Created(FriendRequest request) => new(request.FromUserId, request.ToUserId,
        request.AnsweredAtMs is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : time.GetUtcNow());

    /// <summary>Puts the accept's events in the outbox and the inviter's stream; returns the friendship event, if the accept made one.</summary>
    private async Task<FriendshipCreated?> StageAsync(FriendRequest request, bool friendshipCreated, CancellationToken ct)
    {
        var created = friendshipCreated ? Created(request) : null;
        if (created is not null)
            outbox.Add(created);
        await updates.AppendAsync([(request.FromUserId, ServerEvents.Agree(request.Id, request.FromUserId, request.ToUserId))], ct);
        return created;
    }

    private async Task AnnounceAsync(ConsumeContext<AcceptFriendRequest> context, FriendRequest request, FriendshipCreated? created)
    {
        // Applied first, then announced: the event then finds the rows there instead of racing to insert them.
        if (created is not null)
            await projection.ApplyAsync(created, context.CancellationToken);
        await outbox.PublishAsync(context, context.CancellationToken);
        await context.RespondAsync(new FriendRequestAccepted(request.Id, request.FromUserId, request.ToUserId));
    }
}
