using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Messaging;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Friends.Events;

/// <summary>
/// Read-your-writes for the relationships messaging authorizes with. Messaging keeps its own projection
/// of friendships and group members, fed by the events this service publishes; an event can arrive after
/// the answer that tells a user "you are friends" or "the group is made", and a message sent at once
/// would then be refused or miss a member. So before answering, the change is also applied by request
/// (idempotent with the event). If messaging does not answer within <see cref="Wait"/> the answer goes
/// out anyway and the event applies the change when messaging is back.
/// </summary>
public sealed class MessagingProjection(
    IRequestClient<ApplyGroupMembers> groups,
    IRequestClient<ApplyFriendship> friendships,
    ILogger<MessagingProjection> logger)
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    public async Task ApplyAsync(IReadOnlyList<GroupMemberAdded> added, CancellationToken ct)
    {
        if (added.Count == 0)
            return;
        try
        {
            await groups.GetResponse<GroupMembersApplied>(new ApplyGroupMembers(added), ct, Wait);
        }
        catch (Exception ex) when (ex is RequestTimeoutException or RequestFaultException)
        {
            logger.LogWarning("Messaging did not apply {Count} new members of group {GroupId} at once ({Error}); their events will",
                added.Count, added[0].GroupId, ex.GetType().Name);
        }
    }

    public Task ApplyAsync(FriendshipCreated created, CancellationToken ct) =>
        ApplyFriendshipAsync(new ApplyFriendship(created), created.UserId, created.FriendId, ct);

    public Task ApplyAsync(FriendshipRemoved removed, CancellationToken ct) =>
        ApplyFriendshipAsync(new ApplyFriendship(null, removed), removed.UserId, removed.FriendId, ct);

    /// <summary>A member who left: applied before the leaver is answered, so the group's next message does not reach them.</summary>
    public async Task ApplyAsync(GroupMemberRemoved removed, CancellationToken ct)
    {
        try
        {
            await groups.GetResponse<GroupMembersApplied>(new ApplyGroupMembers([], [removed]), ct, Wait);
        }
        catch (Exception ex) when (ex is RequestTimeoutException or RequestFaultException)
        {
            logger.LogWarning("Messaging did not apply that user {UserId} left group {GroupId} at once ({Error}); its event will",
                removed.UserId, removed.GroupId, ex.GetType().Name);
        }
    }

    private async Task ApplyFriendshipAsync(ApplyFriendship change, long userId, long friendId, CancellationToken ct)
    {
        try
        {
            await friendships.GetResponse<FriendshipApplied>(change, ct, Wait);
        }
        catch (Exception ex) when (ex is RequestTimeoutException or RequestFaultException)
        {
            logger.LogWarning("Messaging did not apply the change to the friendship of {UserId} and {FriendId} at once ({Error}); its event will",
                userId, friendId, ex.GetType().Name);
        }
    }
}
