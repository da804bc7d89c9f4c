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

    public Task ApplyAsync(IReadOnlyList<GroupMemberAdded> added, CancellationToken ct) =>
        added.Count == 0
            ? Task.CompletedTask
            : RequestAsync<ApplyGroupMembers, GroupMembersApplied>(groups, new ApplyGroupMembers(added), $"{added.Count} new members of group {added[0].GroupId}", ct);

    /// <summary>A member who left: applied before the leaver is answered, so the group's next message does not reach them.</summary>
    public Task ApplyAsync(GroupMemberRemoved removed, CancellationToken ct) =>
        RequestAsync<ApplyGroupMembers, GroupMembersApplied>(groups, new ApplyGroupMembers([], [removed]), $"that user {removed.UserId} left group {removed.GroupId}", ct);

    public Task ApplyAsync(FriendshipCreated created, CancellationToken ct) =>
        RequestAsync<ApplyFriendship, FriendshipApplied>(friendships, new ApplyFriendship(created), $"the friendship of {created.UserId} and {created.FriendId}", ct);

    public Task ApplyAsync(FriendshipRemoved removed, CancellationToken ct) =>
        RequestAsync<ApplyFriendship, FriendshipApplied>(friendships, new ApplyFriendship(null, removed), $"the end of the friendship of {removed.UserId} and {removed.FriendId}", ct);

    /// <summary>A block that started or ended: applied before the blocker is answered, so the next message of the blocked is refused.</summary>
    public Task ApplyAsync(UserBlockChanged changed, CancellationToken ct) =>
        RequestAsync<ApplyFriendship, FriendshipApplied>(friendships, new ApplyFriendship(null, null, changed),
            $"that user {changed.UserId} {(changed.Blocked ? "blocks" : "no longer blocks")} user {changed.BlockedId}", ct);

    /// <summary>Asks messaging to apply a change, at most <see cref="Wait"/>; unanswered, its published event applies it later.</summary>
    private async Task RequestAsync<TChange, TApplied>(IRequestClient<TChange> client, TChange change, string what, CancellationToken ct)
        where TChange : class
        where TApplied : class
    {
        try
        {
            await client.GetResponse<TApplied>(change, ct, Wait);
        }
        catch (Exception ex) when (ex is RequestTimeoutException or RequestFaultException)
        {
            logger.LogWarning("Messaging did not apply {Change} at once ({Error}); its event will", what, ex.GetType().Name);
        }
    }
}
