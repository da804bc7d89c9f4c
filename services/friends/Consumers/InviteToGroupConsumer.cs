using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Friends.Data;
using EasyIm.Friends.Events;
using EasyIm.Friends.Groups;
using EasyIm.Hosting.Outbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>
/// A member adds some of their friends to a group: any member, or only its admins (the owner) when the
/// group's invite policy says so (403 naming <c>group_id</c>). Users already in it are skipped; anyone
/// else who is not the inviter's friend, or who blocks the inviter, refuses the whole call (403 naming <c>user_ids</c>), and so does
/// passing the group size or groups-per-user cap (409, <see cref="GroupLimits"/>): the group is then
/// unchanged. Every member, newcomers included, gets GROUP_JOIN on their live connections when someone was added.
/// </summary>
public sealed class InviteToGroupConsumer(FriendsDbContext db, TimeProvider time, MessagingProjection projection, GroupLimits limits,
    Outbox<FriendsDbContext> outbox, UpdateStream updates) : IConsumer<InviteToGroup>
{
    public async Task Consume(ConsumeContext<InviteToGroup> context)
    {
        var (me, groupId, userIds) = context.Message;
        var ct = context.CancellationToken;
        var messageId = context.MessageId;

        if (FriendRules.CheckIds(userIds, "user_ids", required: true) is { } broken)
        {
            await context.RespondAsync(new RequestRejected(400, broken.Message, broken.Field));
            return;
        }
        var group = await db.Groups.FirstOrDefaultAsync(g => g.Id == groupId && g.DismissedAtMs == null, ct);
        if (group is null)
        {
            await context.RespondAsync(new RequestRejected(404, $"group {groupId} does not exist", "group_id"));
            return;
        }
        var wanted = userIds.Distinct().ToList();
        var present = await db.GroupMembers
            .Where(m => m.GroupId == groupId && (m.UserId == me || wanted.Contains(m.UserId)))
            .Select(m => new { m.UserId, m.Role, m.AddedByCommandId, m.JoinedAtMs })
            .ToListAsync(ct);
        if (present.FirstOrDefault(m => m.UserId == me) is not { } inviter)
        {
            await context.RespondAsync(new RequestRejected(403, $"only members of group {groupId} may invite to it", "group_id"));
            return;
        }
        if (group.InvitePolicy == GroupInvitePolicy.Admins && !GroupRoles.IsAdmin(inviter.Role))
        {
            await context.RespondAsync(new RequestRejected(403,
                $"only the owner of group {groupId} may invite to it (its invite_policy is {GroupInvitePolicies.Admins})", "group_id"));
            return;
        }

        var newcomers = wanted.Where(id => present.All(m => m.UserId != id)).ToList();
        var friends = await db.Friendships
            .Where(f => f.UserId == me && newcomers.Contains(f.FriendId))
            .Select(f => f.FriendId)
            .ToListAsync(ct);
        if (newcomers.Except(friends).FirstOrDefault() is var stranger and not 0)
        {
            await context.RespondAsync(new RequestRejected(403, $"user {stranger} is not your friend; you may invite only your friends", "user_ids"));
            return;
        }
        // A friend who blocks the inviter is not theirs to add (told only that it is not allowed).
        var blockers = await db.BlockingAsync(newcomers, me, ct);
        if (blockers.Count > 0)
        {
            await context.RespondAsync(new RequestRejected(403, $"you are not allowed to invite user {blockers.Min()}", "user_ids"));
            return;
        }
        if (newcomers.Count > 0)
        {
            var members = await db.GroupMembers.CountAsync(m => m.GroupId == groupId, ct);
            var refused = limits.CheckGroupSize(groupId, members, newcomers.Count, "user_ids")
                ?? await limits.CheckGroupsPerUserAsync(newcomers, me, "user_ids", ct);
            if (refused is not null)
            {
                await context.RespondAsync(refused);
                return;
            }
        }

        // Those this very command added before, if it is a redelivery: announced again below.
        var added = present.Where(m => messageId is not null && m.AddedByCommandId == messageId)
            .Select(m => (m.UserId, m.JoinedAtMs)).ToList();
        var everyone = await db.GroupMembers.Where(m => m.GroupId == groupId).Select(m => m.UserId).ToListAsync(ct);
        if (newcomers.Count > 0)
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            db.GroupMembers.AddRange(newcomers.Select(id => new GroupMember
            {
                GroupId = groupId, UserId = id, Role = GroupRoles.Member, JoinedAtMs = now, AddedByCommandId = messageId,
            }));
            // The version is a concurrency token: a leave or invite racing this one makes one of them
            // throw and be retried on the new membership.
            group.Version++;
            added.AddRange(newcomers.Select(id => (id, now)));
            everyone.AddRange(newcomers);
        }

        // The events of the members this call adds commit with them (the outbox, the update streams); those a
        // redelivery finds added by its first delivery were stored then, and are only applied to the projection again.
        var events = added.Select(a => new GroupMemberAdded(groupId, a.UserId, GroupRoles.Member, DateTimeOffset.FromUnixTimeMilliseconds(a.JoinedAtMs))).ToList();
        foreach (var memberAdded in events.Where(e => newcomers.Contains(e.UserId)))
            outbox.Add(memberAdded);
        if (newcomers.Count > 0)
        {
            await updates.AppendAsync(everyone
                .Select(id => (id, ServerEvents.MembersJoined(groupId, me, id, newcomers, everyone.Count)))
                .ToList(), ct);
        }
        await db.SaveChangesAsync(ct);
        // Applied first, then announced: the events then find the rows there instead of racing to insert them.
        await projection.ApplyAsync(events, ct);
        await outbox.PublishAsync(context, ct);
        await context.RespondAsync(new GroupMembersChanged(groupId, everyone.Count));
    }
}
