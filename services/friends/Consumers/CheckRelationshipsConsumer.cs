using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>
/// Messaging asks before it refuses on its projection: friends right now, or a member of the
/// group right now? Answered from the tables this service owns, one answer per query.
/// </summary>
public sealed class CheckRelationshipsConsumer(FriendsDbContext db) : IConsumer<CheckRelationships>
{
    private const int MaxQueries = 1000;

    public async Task Consume(ConsumeContext<CheckRelationships> context)
    {
        var queries = context.Message.Queries.Distinct().Take(MaxQueries).ToList();
        var pairs = queries.Where(q => !q.IsGroup).ToList();
        var memberships = queries.Where(q => q.IsGroup).ToList();

        var friends = new HashSet<(long, long)>();
        if (pairs.Count > 0)
        {
            var users = pairs.Select(q => q.UserId).Distinct().ToList();
            var others = pairs.Select(q => q.OtherId).Distinct().ToList();
            var rows = await db.Friendships.AsNoTracking()
                .Where(f => users.Contains(f.UserId) && others.Contains(f.FriendId))
                .Select(f => new { f.UserId, f.FriendId })
                .ToListAsync(context.CancellationToken);
            friends.UnionWith(rows.Select(r => (r.UserId, r.FriendId)));
        }
        var members = new HashSet<(long, long)>();
        if (memberships.Count > 0)
        {
            var groups = memberships.Select(q => q.OtherId).Distinct().ToList();
            var users = memberships.Select(q => q.UserId).Distinct().ToList();
            var rows = await (
                    from m in db.GroupMembers
                    join g in db.Groups on m.GroupId equals g.Id
                    where g.DismissedAtMs == null && groups.Contains(m.GroupId) && users.Contains(m.UserId)
                    select new { m.GroupId, m.UserId })
                .AsNoTracking()
                .ToListAsync(context.CancellationToken);
            members.UnionWith(rows.Select(r => (r.GroupId, r.UserId)));
        }

        await context.RespondAsync(new RelationshipsChecked(queries
            .Select(q => new RelationshipAnswer(q.UserId, q.OtherId, q.IsGroup,
                q.IsGroup ? members.Contains((q.OtherId, q.UserId)) : friends.Contains((q.UserId, q.OtherId))))
            .ToList()));
    }
}
