using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>Pending requests to the user, newest first.</summary>
public sealed class ListFriendRequestsConsumer(FriendsDbContext db) : IConsumer<ListFriendRequests>
{
    /// <summary>More than anyone answers; the list stays one response.</summary>
    public const int MaxItems = 500;

    public async Task Consume(ConsumeContext<ListFriendRequests> context)
    {
        var me = context.Message.UserId;
        var rows = await (
                from r in db.FriendRequests
                where r.ToUserId == me && r.Status == FriendRequestStatus.Pending
                join u in db.Users on r.FromUserId equals u.Id
                orderby r.CreatedAtMs descending, r.Id descending
                select new { r.Id, r.FromUserId, u.Account, u.Nickname, r.Message, r.CreatedAtMs })
            .AsNoTracking()
            .Take(MaxItems)
            .ToListAsync(context.CancellationToken);
        await context.RespondAsync(new FriendRequestList(rows
            .Select(r => new FriendRequestInfo(r.Id, r.FromUserId, r.Account, r.Nickname, r.Message, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAtMs)))
            .ToList()));
    }
}
