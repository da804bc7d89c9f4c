using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// Keeps the group membership projection (who may send to a group, and who receives its messages).
/// Out-of-order and repeated events are settled by event time, as for friendships. A member who joins
/// starts reading the group from its current end: the connect-time sync does not replay the group's past
/// (the history API still shows it to members).
/// </summary>
public sealed class ProjectGroupMembersConsumer(MessagingDbContext db) :
    IConsumer<GroupMemberAdded>,
    IConsumer<ApplyGroupMembers>,
    IConsumer<GroupMemberRemoved>
{
    public Task Consume(ConsumeContext<GroupMemberAdded> context) => AddAsync(context.Message, context.CancellationToken);

    /// <summary>The API's read-your-writes: members just added are applied before their adder is answered.</summary>
    public async Task Consume(ConsumeContext<ApplyGroupMembers> context)
    {
        var added = context.Message.Added ?? [];
        foreach (var member in added)
        {
            if (member is not null)
                await AddAsync(member, context.CancellationToken);
        }
        var removed = context.Message.Removed ?? [];
        foreach (var member in removed)
        {
            if (member is not null)
                await RemoveAsync(member, context.CancellationToken);
        }
        await context.RespondAsync(new GroupMembersApplied(added.Count + removed.Count));
    }

    private async Task AddAsync(GroupMemberAdded added, CancellationToken ct)
    {
        var (groupId, userId, role, at) = added;
        if (groupId <= 0 || userId <= 0)
            return;
        var atMs = at.ToUnixTimeMilliseconds();
        var normalizedRole = string.IsNullOrWhiteSpace(role) ? GroupRoles.Member : role.Trim().ToLowerInvariant();
        if (normalizedRole.Length > 16)
            normalizedRole = normalizedRole[..16];

        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var row = await db.GroupMembers.FirstOrDefaultAsync(m => m.GroupId == groupId && m.UserId == userId, ct);
        var joins = row is null || (!row.Active && atMs >= row.ChangedAtMs);
        if (row is null)
            db.GroupMembers.Add(new GroupMember { GroupId = groupId, UserId = userId, Active = true, Role = normalizedRole, ChangedAtMs = atMs });
        else if (atMs >= row.ChangedAtMs)
            (row.Active, row.Role, row.ChangedAtMs) = (true, normalizedRole, atMs);
        await db.SaveChangesAsync(ct);

        if (joins)
        {
            var conversationId = ConversationId.ForGroup(groupId).ToString();
            var lastSeq = await db.Conversations.Where(c => c.Id == conversationId).Select(c => c.LastSeq).FirstOrDefaultAsync(ct);
            if (lastSeq > 0)
                await MessagingSql.RaiseCursorsAsync(db, [new MessagingSql.CursorRaise(userId, conversationId, lastSeq, lastSeq)], ct);
        }
        await transaction.CommitAsync(ct);
    }

    public Task Consume(ConsumeContext<GroupMemberRemoved> context) => RemoveAsync(context.Message, context.CancellationToken);

    private async Task RemoveAsync(GroupMemberRemoved removed, CancellationToken ct)
    {
        var (groupId, userId, at) = removed;
        if (groupId <= 0 || userId <= 0)
            return;
        var atMs = at.ToUnixTimeMilliseconds();
        var row = await db.GroupMembers.FirstOrDefaultAsync(m => m.GroupId == groupId && m.UserId == userId, ct);
        if (row is null)
            db.GroupMembers.Add(new GroupMember { GroupId = groupId, UserId = userId, Active = false, Role = GroupRoles.Member, ChangedAtMs = atMs });
        else if (atMs >= row.ChangedAtMs)
            (row.Active, row.ChangedAtMs) = (false, atMs);
        // A concurrent insert of the same member fails here on the key; the retry then finds the row.
        await db.SaveChangesAsync(ct);
    }
}

public sealed class ProjectGroupMembersConsumerDefinition : ConsumerDefinition<ProjectGroupMembersConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<ProjectGroupMembersConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(DatabaseRetry.Configure);
}
