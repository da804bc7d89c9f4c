using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

public sealed class ListFriendsConsumer(FriendsDbContext db) : IConsumer<ListFriends>
{
    public async Task Consume(ConsumeContext<ListFriends> context)
    {
        var me = context.Message.UserId;
        var friends = await (
                from f in db.Friendships
                where f.UserId == me
                join u in db.Users on f.FriendId equals u.Id
                orderby u.AccountKey
                select new UserInfo(u.Id, u.Account, u.Nickname, u.Avatar))
            .AsNoTracking()
            .ToListAsync(context.CancellationToken);
        await context.RespondAsync(new UserList(friends));
    }
}
