using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>The invitee declines. The inviter is not told (easyim has no such event); they may invite again.</summary>
public sealed class RejectFriendRequestConsumer(FriendsDbContext db, TimeProvider time) : IConsumer<RejectFriendRequest>
{
    public async Task Consume(ConsumeContext<RejectFriendRequest> context)
    {
        var (me, requestId) = context.Message;
        var messageId = context.MessageId;
        var request = await db.FriendRequests.FirstOrDefaultAsync(r => r.Id == requestId, context.CancellationToken);
        if (request is null)
        {
            await context.RespondAsync(new RequestRejected(404, "no such friend request", "id"));
            return;
        }
        if (request.ToUserId != me)
        {
            await context.RespondAsync(new RequestRejected(403, "only the invitee may reject a friend request", "id"));
            return;
        }
        var redelivered = request.Status == FriendRequestStatus.Rejected && messageId is not null && request.AnswerCommandId == messageId;
        if (!redelivered)
        {
            if (request.Status != FriendRequestStatus.Pending)
            {
                await context.RespondAsync(new RequestRejected(409, $"the friend request was already {request.Status.ToString().ToLowerInvariant()}", "id"));
                return;
            }
            request.Status = FriendRequestStatus.Rejected;
            request.AnsweredAtMs = time.GetUtcNow().ToUnixTimeMilliseconds();
            request.AnswerCommandId = messageId;
            // A concurrency token, as in AcceptFriendRequestConsumer.
            await db.SaveChangesAsync(context.CancellationToken);
        }
        await context.RespondAsync(new FriendRequestDeclined(request.Id));
    }
}
