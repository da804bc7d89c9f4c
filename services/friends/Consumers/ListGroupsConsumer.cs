using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;
using EasyIm.Friends.Groups;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>The groups the user is a member of, oldest first, with their member counts and invite policies.</summary>
public sealed class ListGroupsConsumer(FriendsDbContext db) : IConsumer<ListGroups>
{
    public async Task Consume(ConsumeContext<ListGroups> context)
    {
        var me = context.Message.UserId;
        var groups = await (
                from m in db.GroupMembers
                where m.UserId == me
                join g in db.Groups on m.GroupId equals g.Id
                where g.DismissedAtMs == null
                orderby g.Id
                select new { g.Id, g.Name, g.OwnerId, Members = db.GroupMembers.Count(x => x.GroupId == g.Id), g.InvitePolicy })
            .AsNoTracking()
            .ToListAsync(context.CancellationToken);
        await context.RespondAsync(new GroupList(groups
            .Select(g => new GroupInfo(g.Id, g.Name, g.OwnerId, g.Members, InvitePolicies.ToWire(g.InvitePolicy)))
            .ToList()));
    }
}
