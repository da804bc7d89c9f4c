using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Groups;

/// <summary>
/// The counts a create or an invite must stay within (<see cref="FriendsOptions"/>): members per group, and
/// groups per user. Each answers the refusal to send, or null. The group's own count is exact under races
/// (its version is a concurrency token, so two invites racing are applied one after the other, the second
/// one re-counted); the groups per user may be passed by as many creates or invites as race for one user.
/// </summary>
public sealed class GroupLimits(FriendsDbContext db, FriendsOptions options)
{
    /// <summary>Refuses <paramref name="adding"/> more members to a group of <paramref name="members"/>, past the cap.</summary>
    public RequestRejected? CheckGroupSize(long? groupId, int members, int adding, string field)
    {
        if (adding == 0 || members + adding <= options.MaxGroupMembers)
            return null;
        var cap = options.MaxGroupMembers;
        return new RequestRejected(409, groupId is { } id
            ? $"group {id} has {members} members and may have at most {cap}: {adding} more would pass that"
            : $"a group may have at most {cap} members, the owner included: {adding} more would pass that", field);
    }

    /// <summary>Refuses when one of <paramref name="users"/> is already in as many groups as a user may be.</summary>
    public async Task<RequestRejected?> CheckGroupsPerUserAsync(IReadOnlyCollection<long> users, long me, string field, CancellationToken ct)
    {
        if (users.Count == 0)
            return null;
        var cap = options.MaxGroupsPerUser;
        // Members of dismissed groups have left them (their rows are gone), so every row counts.
        var full = await db.GroupMembers.AsNoTracking()
            .Where(m => users.Contains(m.UserId))
            .GroupBy(m => m.UserId)
            .Where(g => g.Count() >= cap)
            .Select(g => g.Key)
            .OrderBy(id => id)
            .FirstOrDefaultAsync(ct);
        if (full == 0)
            return null;
        return full == me
            ? new RequestRejected(409, $"you are a member of {cap} groups, as many as a user may be; leave one first", field)
            : new RequestRejected(409, $"user {full} is a member of {cap} groups, as many as a user may be", field);
    }
}
