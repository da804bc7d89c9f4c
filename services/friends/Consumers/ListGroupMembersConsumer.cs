using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;
using EasyIm.Friends.Users;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>A group's members, the owner first, then by when they joined. Only members may look (403).</summary>
public sealed class ListGroupMembersConsumer(FriendsDbContext db, UserDirectory users) : IConsumer<ListGroupMembers>
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
        var members = await db.GroupMembers.AsNoTracking()
            .Where(m => m.GroupId == groupId)
            .OrderBy(m => m.Role == GroupRoles.Owner ? 0 : 1).ThenBy(m => m.JoinedAtMs).ThenBy(m => m.UserId)
            .Select(m => new { m.UserId, m.Role })
            .ToListAsync(ct);
        if (members.All(m => m.UserId != me))
        {
            await context.RespondAsync(new RequestRejected(403, $"only members of group {groupId} may list its members", "group_id"));
            return;
        }
        // Through the directory, so that a member the projection has not heard of yet shows as auth knows them.
        var profiles = await users.FindAsync(members.Select(m => m.UserId).ToList(), ct);
        await context.RespondAsync(new GroupMemberList(members.Select(m => profiles.GetValueOrDefault(m.UserId) is { } u
                ? new GroupMemberInfo(m.UserId, u.Account, u.Nickname, u.Avatar, m.Role)
                : new GroupMemberInfo(m.UserId, "", "", "", m.Role))
            .ToList()));
    }
}
