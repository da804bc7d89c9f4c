using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Friends.Data;
using EasyIm.Friends.Events;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>
/// A member adds some of their friends to a group. Users already in it are skipped; anyone else
/// who is not the inviter's friend refuses the whole call (403 naming <c>user_ids</c>). Every member,
/// newcomers included, gets GROUP_JOIN on their live connections when someone was added.
/// </summary>
public sealed class InviteToGroupConsumer(FriendsDbContext db, TimeProvider time, MessagingProjection projection) : IConsumer<InviteToGroup>
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
            .Select(m => new { m.UserId, m.AddedByCommandId, m.JoinedAtMs })
            .ToListAsync(ct);
        if (present.All(m => m.UserId != me))
        {
            await context.RespondAsync(new RequestRejected(403, $"only members of group {groupId} may invite to it", "group_id"));
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

        // Those this very command added before, if it is a redelivery: announced again below.
        var added = present.Where(m => messageId is not null && m.AddedByCommandId == messageId)
            .Select(m => (m.UserId, m.JoinedAtMs)).ToList();
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
            await db.SaveChangesAsync(ct);
            added.AddRange(newcomers.Select(id => (id, now)));
        }

        var events = added.Select(a => new GroupMemberAdded(groupId, a.UserId, GroupRoles.Member, DateTimeOffset.FromUnixTimeMilliseconds(a.JoinedAtMs))).ToList();
        // Applied first, then announced: the events then find the rows there instead of racing to insert them.
        await projection.ApplyAsync(events, ct);
        await context.PublishBatch(events);
        var members = await db.GroupMembers.Where(m => m.GroupId == groupId).Select(m => m.UserId).ToListAsync(ct);
        if (added.Count > 0)
        {
            var joined = added.Select(a => a.UserId).ToList();
            await context.Publish(new PushToUsers(members
                .Select(id => new UserPush(id, ServerEvents.MembersJoined(groupId, me, id, joined, members.Count)))
                .ToList()));
        }
        await context.RespondAsync(new GroupMembersChanged(groupId, members.Count));
    }
}
