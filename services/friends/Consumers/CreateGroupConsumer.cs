using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Friends.Data;
using EasyIm.Hosting.Ids;
using EasyIm.Friends.Events;
using EasyIm.Friends.Groups;
using EasyIm.Hosting.Outbox;
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
    FriendsOptions options,
    Outbox<FriendsDbContext> outbox,
    UpdateStream updates) : IConsumer<CreateGroup>
{
    public async Task Consume(ConsumeContext<CreateGroup> context)
    {
        var (owner, name, memberIds) = context.Message;
        var ct = context.CancellationToken;

        if (await FindRedeliveredAsync(context) is { } earlier)
        {
            await AnnounceAgainAsync(context, earlier);
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
        var blockers = await db.BlockingAsync(members, owner, ct);
        if (blockers.Count > 0)
        {
            await context.RespondAsync(new RequestRejected(403, $"you are not allowed to add user {blockers.Min()}", "member_ids"));
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
        var added = new List<GroupMember>
        {
            new() { GroupId = group.Id, UserId = owner, Role = GroupRoles.Owner, JoinedAtMs = now, AddedByCommandId = context.MessageId },
        };
        // Friends join a moment after the owner, so that the owner is always the longest-standing member.
        added.AddRange(members.Select(id => new GroupMember
        {
            GroupId = group.Id, UserId = id, Role = GroupRoles.Member, JoinedAtMs = now + 1, AddedByCommandId = context.MessageId,
        }));
        db.GroupMembers.AddRange(added);
        // The events commit with the group (the outbox).
        var events = await StageAsync(group, added, ct);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Only the command's unique index can collide here: a redelivery raced this attempt.
            db.ChangeTracker.Clear();
            outbox.Discard();
            if (await FindRedeliveredAsync(context) is not { } twin)
                throw;
            await AnnounceAgainAsync(context, twin);
            return;
        }
        await AnnounceAsync(context, group, events);
    }

    private async Task<Group?> FindRedeliveredAsync(ConsumeContext<CreateGroup> context)
    {
        if (context.MessageId is not { } messageId)
            return null;
        return await db.Groups.AsNoTracking().FirstOrDefaultAsync(g => g.CommandId == messageId, context.CancellationToken);
    }

    private static List<GroupMemberAdded> Events(Group group, IEnumerable<GroupMember> added) =>
        added.Select(m => new GroupMemberAdded(group.Id, m.UserId, m.Role, DateTimeOffset.FromUnixTimeMilliseconds(m.JoinedAtMs))).ToList();

    /// <summary>Puts the events of the members this command adds in the outbox and the members' streams.</summary>
    private async Task<List<GroupMemberAdded>> StageAsync(Group group, IReadOnlyList<GroupMember> added, CancellationToken ct)
    {
        var events = Events(group, added);
        foreach (var memberAdded in events)
            outbox.Add(memberAdded);
        // Every member's live connections (the owner's other devices too) show the group before its first message.
        var members = added.Select(m => m.UserId).ToList();
        await updates.AppendAsync(members.Select(id => (id, ServerEvents.MembersJoined(group.Id, group.OwnerId, id, members, members.Count))).ToList(), ct);
        return events;
    }

    /// <summary>
    /// A redelivery: its events were stored with the group by the first delivery (the outbox publishes them); the
    /// projection is told again, from the rows, and the answer given.
    /// </summary>
    private async Task AnnounceAgainAsync(ConsumeContext<CreateGroup> context, Group group)
    {
        var messageId = context.MessageId;
        var added = await db.GroupMembers.AsNoTracking()
            .Where(m => m.GroupId == group.Id && m.AddedByCommandId == messageId)
            .OrderBy(m => m.JoinedAtMs).ThenBy(m => m.UserId)
            .ToListAsync(context.CancellationToken);
        await AnnounceAsync(context, group, Events(group, added));
    }

    private async Task AnnounceAsync(ConsumeContext<CreateGroup> context, Group group, List<GroupMemberAdded> events)
    {
        // Applied first, then announced: the events then find the rows there instead of racing to insert them.
        await projection.ApplyAsync(events, context.CancellationToken);
        await outbox.PublishAsync(context, context.CancellationToken);
        await context.RespondAsync(new GroupCreated(group.Id));
    }
}
