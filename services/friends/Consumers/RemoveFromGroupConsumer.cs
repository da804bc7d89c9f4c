using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;
using EasyIm.Friends.Events;
using EasyIm.Hosting.Outbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>
/// The owner removes a member (issue 15, group administration). Like a leave: <see cref="GroupMemberRemoved"/> goes out,
/// applied to messaging's projection before the answer (the removed member's next message to the group is refused), and
/// GROUP_LEAVE, naming the remover as <c>by_user_id</c>, to the members left and to the one removed.
/// </summary>
public sealed class RemoveFromGroupConsumer(FriendsDbContext db, MessagingProjection projection, Outbox<FriendsDbContext> outbox, UpdateStream updates,
    TimeProvider time)
    : IConsumer<RemoveFromGroup>
{
    public async Task Consume(ConsumeContext<RemoveFromGroup> context)
    {
        var (me, groupId, memberId) = context.Message;
        var ct = context.CancellationToken;
        if (memberId == me)
        {
            await context.RespondAsync(new RequestRejected(400, "to leave a group, use /api/group/leave", "user_id"));
            return;
        }
        var group = await db.Groups.FirstOrDefaultAsync(g => g.Id == groupId && g.DismissedAtMs == null, ct);
        if (group is null)
        {
            await context.RespondAsync(new RequestRejected(404, $"group {groupId} does not exist", "group_id"));
            return;
        }
        var members = await db.GroupMembers.Where(m => m.GroupId == groupId).ToListAsync(ct);
        var remover = members.FirstOrDefault(m => m.UserId == me);
        if (remover is null || !GroupRoles.IsAdmin(remover.Role))
        {
            await context.RespondAsync(new RequestRejected(403, $"only the owner of group {groupId} may remove its members", "group_id"));
            return;
        }
        var removed = members.FirstOrDefault(m => m.UserId == memberId);
        if (removed is null)
        {
            await context.RespondAsync(new RequestRejected(404, $"user {memberId} is not a member of group {groupId}", "user_id"));
            return;
        }
        if (removed.Role == GroupRoles.Owner)
        {
            await context.RespondAsync(new RequestRejected(403, "the group's owner cannot be removed", "user_id"));
            return;
        }

        var now = time.GetUtcNow();
        db.GroupMembers.Remove(removed);
        var remaining = members.Where(m => m != removed).ToList();
        // A concurrency token, as for a leave: a removal racing a leave or an invite is retried on the new membership.
        group.Version++;
        var left = new GroupMemberRemoved(groupId, memberId, now);
        outbox.Add(left);
        await updates.AppendAsync(remaining.Select(m => m.UserId).Append(memberId)
            .Select(id => (id, ServerEvents.MemberRemoved(groupId, memberId, me, id, remaining.Count)))
            .ToList(), ct);
        await db.SaveChangesAsync(ct);

        await projection.ApplyAsync(left, ct);
        await outbox.PublishAsync(context, ct);
        await context.RespondAsync(new GroupMembersChanged(groupId, remaining.Count));
    }
}
