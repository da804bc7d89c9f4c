using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Friends.Data;
using EasyIm.Hosting.Ids;
using EasyIm.Friends.Events;
using EasyIm.Friends.Groups;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.Friends.Consumers;

/// <summary>
/// A group of the owner and some of the owner's friends (403 naming <c>member_ids</c> for anyone
/// else), within the group size and groups-per-user caps (409, <see cref="GroupLimits"/>).
/// <see cref="GroupMemberAdded"/> goes out for every member, the owner (role owner) included.
/// </summary>
public sealed class CreateGroupConsumer(
    FriendsDbContext db,
    [FromKeyedServices(FriendsDbContext.Service)] SnowflakeIds ids,
    TimeProvider time,
    MessagingProjection projection,
    GroupLimits limits,
    FriendsOptions options) : IConsumer<CreateGroup>
{
    public async Task Consume(ConsumeContext<CreateGroup> context)
    {
        var (owner, name, memberIds) = context.Message;
        var ct = context.CancellationToken;

        if (await FindRedeliveredAsync(context) is { } earlier)
        {
            await AnnounceAsync(context, earlier);
            return;
        }
        if ((FriendRules.CheckGroupName(name) ?? FriendRules.CheckIds(memberIds, "member_ids", required: false)) is { } broken)
        {
            await context.RespondAsync(new RequestRejected(400, broken.Message, broken.Field));
            return;
        }
        var members = memberIds.Where(id => id != owner).Distinct().ToList();
        var friends = await db.Friendships
            .Where(f => f.UserId == owner && members.Contains(f.FriendId))
            .Select(f => f.FriendId)
            .ToListAsync(ct);
        if (members.Except(friends).FirstOrDefault() is var stranger and not 0)
        {
            await context.RespondAsync(new RequestRejected(403, $"user {stranger} is not your friend; a group is made of your friends", "member_ids"));
            return;
        }
        var refused = limits.CheckGroupSize(null, 1, members.Count, "member_ids")
            ?? await limits.CheckGroupsPerUserAsync([owner], owner, "member_ids", ct)
            ?? await limits.CheckGroupsPerUserAsync(members, owner, "member_ids", ct);
        if (refused is not null)
        {
            await context.RespondAsync(refused);
            return;
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var group = new Group
        {
            Id = ids.Next(), Name = name.Trim(), OwnerId = owner, CreatedAtMs = now, CommandId = context.MessageId,
            InvitePolicy = options.DefaultInvitePolicy,
        };
        db.Groups.Add(group);
        db.GroupMembers.Add(new GroupMember { GroupId = group.Id, UserId = owner, Role = GroupRoles.Owner, JoinedAtMs = now, AddedByCommandId = context.MessageId });
        // Friends join a moment after the owner, so that the owner is always the longest-standing member.
        db.GroupMembers.AddRange(members.Select(id => new GroupMember
        {
            GroupId = group.Id, UserId = id, Role = GroupRoles.Member, JoinedAtMs = now + 1, AddedByCommandId = context.MessageId,
        }));
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Only the command's unique index can collide here: a redelivery raced this attempt.
            db.ChangeTracker.Clear();
            if (await FindRedeliveredAsync(context) is not { } twin)
                throw;
            await AnnounceAsync(context, twin);
            return;
        }
        await AnnounceAsync(context, group);
    }

    private async Task<Group?> FindRedeliveredAsync(ConsumeContext<CreateGroup> context)
    {
        if (context.MessageId is not { } messageId)
            return null;
        return await db.Groups.AsNoTracking().FirstOrDefaultAsync(g => g.CommandId == messageId, context.CancellationToken);
    }

    /// <summary>Announces the members this command added (all of them, or again on a redelivery) and answers.</summary>
    private async Task AnnounceAsync(ConsumeContext<CreateGroup> context, Group group)
    {
        var messageId = context.MessageId;
        var added = await db.GroupMembers.AsNoTracking()
            .Where(m => m.GroupId == group.Id && m.AddedByCommandId == messageId)
            .OrderBy(m => m.JoinedAtMs).ThenBy(m => m.UserId)
            .ToListAsync(context.CancellationToken);
        var events = added.Select(m => new GroupMemberAdded(group.Id, m.UserId, m.Role, DateTimeOffset.FromUnixTimeMilliseconds(m.JoinedAtMs))).ToList();
        // Applied first, then announced: the events then find the rows there instead of racing to insert them.
        await projection.ApplyAsync(events, context.CancellationToken);
        await context.PublishBatch(events);
        // Every member's live connections (the owner's other devices too) show the group before its first message.
        var members = added.Select(m => m.UserId).ToList();
        if (members.Count > 0)
        {
            await context.Publish(new PushToUsers(members
                .Select(id => new UserPush(id, ServerEvents.MembersJoined(group.Id, group.OwnerId, id, members, members.Count)))
                .ToList()));
        }
        await context.RespondAsync(new GroupCreated(group.Id));
    }
}
