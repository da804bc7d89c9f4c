using EasyIm.Contracts.Gateway;

namespace EasyIm.Friends.Events;

/// <summary>
/// The socket events the friends service sends through the gateways (<c>msg_type=4</c>), typed: the gateway
/// writes their content (<see cref="ClientEvent"/>).
/// </summary>
public static class ServerEvents
{
    /// <summary>To the invitee: <c>from_user_id</c> is the inviter, <c>data.id</c> the request id.</summary>
    public static WireMessage Invite(long requestId, long inviterId, long inviteeId, string? message) =>
        Event(inviterId, inviteeId, new FriendInviteEvent(requestId, message ?? ""));

    /// <summary>To the inviter: <c>from_user_id</c> is the one who agreed.</summary>
    public static WireMessage Agree(long requestId, long inviterId, long inviteeId) =>
        Event(inviteeId, inviterId, new FriendAgreeEvent(requestId));

    /// <summary>
    /// To either side of an ended friendship (the remover's other devices too): <c>from_user_id</c> is
    /// the remover, <c>data.user_id</c> the recipient's former friend.
    /// </summary>
    public static WireMessage FriendRemoved(long removerId, long recipientId, long formerFriendId) =>
        Event(removerId, recipientId, new FriendRemoveEvent(formerFriendId));

    /// <summary>To every member after an invitation, newcomers included: <c>from_user_id</c> is the inviter.</summary>
    public static WireMessage MembersJoined(long groupId, long inviterId, long recipientId, IEnumerable<long> userIds, int memberCount) =>
        Event(inviterId, recipientId, new GroupJoinEvent(groupId, userIds.ToList(), memberCount));

    /// <summary>To the members left and to the leaver (their other devices): <c>from_user_id</c> is the leaver.</summary>
    public static WireMessage MemberLeft(long groupId, long leaverId, long recipientId, int memberCount) =>
        Event(leaverId, recipientId, new GroupLeaveEvent(groupId, leaverId, memberCount));

    /// <summary>GROUP_LEAVE for a member removed by <paramref name="byUserId"/>: from the remover, naming both.</summary>
    public static WireMessage MemberRemoved(long groupId, long memberId, long byUserId, long recipientId, int memberCount) =>
        Event(byUserId, recipientId, new GroupLeaveEvent(groupId, memberId, memberCount, byUserId));

    private static WireMessage Event(long from, long to, ClientEvent e) => new()
    {
        MsgType = EventKeys.EventMsgType,
        FromUserId = from,
        ToUserId = to,
        Event = e,
    };
}
