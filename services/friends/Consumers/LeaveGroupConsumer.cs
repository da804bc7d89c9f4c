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
/// A member leaves. An owner leaving hands the group to the longest-standing member left; the last
/// member leaving dismisses the group. <see cref="GroupMemberRemoved"/> goes out for the leaver, and
/// GROUP_LEAVE to the live connections of the members left and of the leaver (their other devices).
/// </summary>
public sealed class LeaveGroupConsumer(FriendsDbContext db, MessagingProjection projection, Outbox<FriendsDbContext> outbox, UpdateStream updates,
    TimeProvider time)
    : IConsumer<LeaveGroup>
{
    public async Task Consume(ConsumeContext<LeaveGroup> context)
    {
        var (me, groupId) = context.Message;
        var ct = context.CancellationToken;

        var group = await db.Groups.FirstOrDefaultAsync(g => g.Id == groupId && g.DismissedAtMs == null, ct);
        if (group is null)
        {
            await context.RespondAsync(new RequestRejected(404, $"group {groupId} does not exist", "group_id"));
            return;
        }
        var members = await db.GroupMembers
            .Where(m => m.GroupId == groupId)
            .OrderBy(m => m.JoinedAtMs).ThenBy(m => m.UserId)
            .ToListAsync(ct);
        var leaver = members.FirstOrDefault(m => m.UserId == me);
        if (leaver is null)
        {
            await context.RespondAsync(new RequestRejected(403, $"you are not a member of group {groupId}", "group_id"));
            return;
        }

        var now = time.GetUtcNow();
        db.GroupMembers.Remove(leaver);
        var remaining = members.Where(m => m != leaver).ToList();
        if (remaining.Count == 0)
        {
            group.DismissedAtMs = now.ToUnixTimeMilliseconds();
        }
        else if (leaver.Role == GroupRoles.Owner || group.OwnerId == me)
        {
            var heir = remaining[0];
            heir.Role = GroupRoles.Owner;
            group.OwnerId = heir.UserId;
        }
        // The version is a concurrency token: an heir leaving at the same moment, or an invite into a
        // group being dismissed, makes one of the two throw and be retried on the new membership.
        group.Version++;
        // The events commit with the leave (the outbox).
        var left = new GroupMemberRemoved(groupId, me, now);
        outbox.Add(left);
        await updates.AppendAsync(remaining.Select(m => m.UserId).Append(me)
            .Select(id => (id, ServerEvents.MemberLeft(groupId, me, id, remaining.Count)))
            .ToList(), ct);
        await db.SaveChangesAsync(ct);

        // Applied first, then announced: a message sent to the group after the answer misses the leaver.
        await projection.ApplyAsync(left, ct);
        await outbox.PublishAsync(context, ct);
        await context.RespondAsync(new GroupMembersChanged(groupId, remaining.Count));
    }
}
