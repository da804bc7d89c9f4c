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

    public async Task ApplyAsync(FriendshipCreated created, CancellationToken ct)
    {
        try
        {
            await friendships.GetResponse<FriendshipApplied>(new ApplyFriendship(created), ct, Wait);
        }
        catch (Exception ex) when (ex is RequestTimeoutException or RequestFaultException)
        {
            logger.LogWarning("Messaging did not apply the friendship of {UserId} and {FriendId} at once ({Error}); its event will",
                created.UserId, created.FriendId, ex.GetType().Name);
        }
    }
}
