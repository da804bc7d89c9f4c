using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>A group's members, the owner first, then by when they joined. Only members may look (403).</summary>
public sealed class ListGroupMembersConsumer(FriendsDbContext db) : IConsumer<ListGroupMembers>
{
    public async Task Consume(ConsumeContext<ListGroupMembers> context)
    {
        var (me, groupId) = context.Message;
        var ct = context.CancellationToken;
        if (!await db.Groups.AnyAsync(g => g.Id == groupId && g.DismissedAtMs == null, ct))
        {
            await context.RespondAsync(new RequestRejected(404, $"group {groupId} does not exist", "group_id"));
            return;
        }
        if (!await db.GroupMembers.AnyAsync(m => m.GroupId == groupId && m.UserId == me, ct))
        {
            await context.RespondAsync(new RequestRejected(403, $"only members of group {groupId} may list its members", "group_id"));
            return;
        }
        var members = await (
                from m in db.GroupMembers
                where m.GroupId == groupId
                join u in db.Users on m.UserId equals u.Id into profiles
                from u in profiles.DefaultIfEmpty()
                orderby m.Role == GroupRoles.Owner ? 0 : 1, m.JoinedAtMs, m.UserId
                select new GroupMemberInfo(m.UserId, u == null ? "" : u.Account, u == null ? "" : u.Nickname, u == null ? "" : u.Avatar, m.Role))
            .AsNoTracking()
            .ToListAsync(ct);
        await context.RespondAsync(new GroupMemberList(members));
    }
}
