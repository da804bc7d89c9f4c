using System.Threading.RateLimiting;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace EasyIm.Messaging.Authorization;

/// <summary>A user's place in a group, as messaging's rules need it.</summary>
public sealed record Membership(string Role, bool Muted)
{
    public bool IsOwner => string.Equals(Role, GroupRoles.Owner, StringComparison.OrdinalIgnoreCase);
}

/// <param name="Unconfirmed">
/// With <c>askLater</c>: what the projection does not hold and friends was not asked about yet (within the asker's
/// budget). The caller asks (<see cref="RelationshipChecker.AskAsync"/>) outside its own critical path and checks again.
/// </param>
public sealed record Relationships(
    IReadOnlySet<(long UserId, long FriendId)> Friends,
    IReadOnlyDictionary<(long GroupId, long UserId), Membership> Members,
    IReadOnlyList<RelationshipQuery>? Unconfirmed = null);

/// <summary>
/// Who may talk to whom: the friendship and membership projection first; where it says no, the
/// friends service (which owns the answer) is asked before refusing, since the projection may not
/// have seen the latest event yet. No answer in time counts as no. Asking is budgeted per user
/// (<see cref="RelationshipAsks"/>): past it, the projection's no stands.
/// <para>
/// The send path never waits for friends: it checks with <c>askLater</c>, sets aside the messages whose
/// relationship is <see cref="Relationships.Unconfirmed"/>, asks (<see cref="AskAsync"/>) beside the writer, and
/// checks those messages again with friends' answers (<c>answered</c>). Typing and history ask inline.
/// </para>
/// </summary>
public sealed class RelationshipChecker(
    MessagingDbContext db,
    IRequestClient<CheckRelationships> friends,
    RelationshipAsks asks,
    MessagingOptions options,
    ILogger<RelationshipChecker> logger)
{
    /// <param name="askLater">Return what friends would have to be asked as <see cref="Relationships.Unconfirmed"/> instead of asking.</param>
    /// <param name="answered">Friends' answers already had (for messages set aside and checked again): used where the projection says no.</param>
    public async Task<Relationships> CheckAsync(
        IReadOnlyCollection<(long UserId, long FriendId)> friendPairs,
        IReadOnlyCollection<(long GroupId, long UserId)> memberPairs,
        CancellationToken cancellationToken,
        bool askLater = false,
        IReadOnlyDictionary<RelationshipQuery, bool>? answered = null)
    {
        var confirmedFriends = new HashSet<(long, long)>();
        var members = new Dictionary<(long, long), Membership>();

        if (friendPairs.Count > 0)
        {
            var users = friendPairs.Select(p => p.UserId).Distinct().ToList();
            var others = friendPairs.Select(p => p.FriendId).Distinct().ToList();
            var rows = await db.Friendships.AsNoTracking()
                .Where(f => f.Active && users.Contains(f.UserId) && others.Contains(f.FriendId))
                .Select(f => new { f.UserId, f.FriendId })
                .ToListAsync(cancellationToken);
            confirmedFriends.UnionWith(rows.Select(r => (r.UserId, r.FriendId)));
        }
        if (memberPairs.Count > 0)
        {
            var groups = memberPairs.Select(p => p.GroupId).Distinct().ToList();
            var users = memberPairs.Select(p => p.UserId).Distinct().ToList();
            var rows = await db.GroupMembers.AsNoTracking()
                .Where(m => m.Active && groups.Contains(m.GroupId) && users.Contains(m.UserId))
                .ToListAsync(cancellationToken);
            foreach (var row in rows)
                members[(row.GroupId, row.UserId)] = new Membership(row.Role, row.Muted);
        }

        void Confirm(RelationshipQuery query)
        {
            if (query.IsGroup)
                members.TryAdd((query.OtherId, query.UserId), new Membership(GroupRoles.Member, false));
            else
                confirmedFriends.Add((query.UserId, query.OtherId));
        }

        var unknown = new List<RelationshipQuery>();
        foreach (var query in friendPairs.Where(p => !confirmedFriends.Contains(p)).Select(p => new RelationshipQuery(p.UserId, p.FriendId, false))
                     .Concat(memberPairs.Where(p => !members.ContainsKey(p)).Select(p => new RelationshipQuery(p.UserId, p.GroupId, true)))
                     .Distinct())
        {
            if (answered is not null && answered.TryGetValue(query, out var related))
            {
                if (related)
                    Confirm(query);
            }
            else if (asks.TryTake(query.UserId))
            {
                unknown.Add(query);
            }
        }
        if (unknown.Count > 0 && askLater)
            return new Relationships(confirmedFriends, members, unknown);
        if (unknown.Count > 0)
        {
            foreach (var (query, isRelated) in await AskAsync(unknown, cancellationToken))
            {
                if (isRelated)
                    Confirm(query);
            }
        }
        return new Relationships(confirmedFriends, members);
    }

    /// <summary>Whether the user takes part in the conversation: one of its two people, or a member of its group now.</summary>
    public async Task<bool> IsParticipantAsync(long userId, ConversationId id, CancellationToken ct) =>
        id.IsGroup ? (await CheckAsync([], [(id.GroupId, userId)], ct)).Members.ContainsKey((id.GroupId, userId)) : id.HasUser(userId);

    /// <summary>Asks friends about relationships the projection does not hold: an answer for each (no answer in time is a no).</summary>
    public async Task<Dictionary<RelationshipQuery, bool>> AskAsync(IReadOnlyList<RelationshipQuery> queries, CancellationToken cancellationToken)
    {
        var answers = queries.Distinct().ToDictionary(q => q, _ => false);
        foreach (var answer in await AskFriendsAsync(queries, cancellationToken))
        {
            if (answer.Related)
                answers[new RelationshipQuery(answer.UserId, answer.OtherId, answer.IsGroup)] = true;
        }
        return answers;
    }

    private async Task<IReadOnlyList<RelationshipAnswer>> AskFriendsAsync(IReadOnlyList<RelationshipQuery> queries, CancellationToken cancellationToken)
    {
        try
        {
            var response = await friends.GetResponse<RelationshipsChecked>(new CheckRelationships(queries), cancellationToken,
                RequestTimeout.After(ms: options.RelationshipCheckTimeoutMs));
            var asked = queries.ToHashSet();
            // Only answers to what was asked count, whatever else a reply carries.
            return response.Message.Answers.Where(a => asked.Contains(new RelationshipQuery(a.UserId, a.OtherId, a.IsGroup))).ToList();
        }
        catch (Exception ex) when (ex is RequestTimeoutException or RequestFaultException)
        {
            logger.LogWarning("The friends service did not confirm {Count} relationships the projection does not know ({Reason}); refusing them",
                queries.Count, ex.GetType().Name);
            return [];
        }
    }
}

/// <summary>
/// Each user's budget of relationship questions to the friends service (<see
/// cref="MessagingOptions.RelationshipAsksPerSecond"/>), one token bucket per user, for the process.
/// </summary>
public sealed class RelationshipAsks(MessagingOptions options, ILogger<RelationshipAsks> logger) : IDisposable
{
    private readonly PartitionedRateLimiter<long> _limiter = PartitionedRateLimiter.Create<long, long>(userId =>
        RateLimitPartition.GetTokenBucketLimiter(userId, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.RelationshipAskBurst,
            TokensPerPeriod = Math.Max(1, (int)Math.Ceiling(options.RelationshipAsksPerSecond)),
            ReplenishmentPeriod = TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling(options.RelationshipAsksPerSecond)) / options.RelationshipAsksPerSecond),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    /// <summary>Takes one question from <paramref name="userId"/>'s budget; false when it is spent.</summary>
    public bool TryTake(long userId)
    {
        using var lease = _limiter.AttemptAcquire(userId);
        if (!lease.IsAcquired)
            logger.LogDebug("User {UserId} is past the budget of relationship questions to friends; the projection's answer stands", userId);
        return lease.IsAcquired;
    }

    public void Dispose() => _limiter.Dispose();
}
