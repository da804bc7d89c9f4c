using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using EasyIm.Contracts.Gateway;

namespace EasyIm.Friends.Events;

/// <summary>
/// The socket events the friends service sends through the gateways (<c>msg_type=4</c>), with
/// easyim's server event content <c>{"code":200,"msg":"SUCCESS","data":{"key":..,..}}</c>.
/// </summary>
public static class ServerEvents
{
    public const int EventMsgType = 4;
    public const string FriendInvite = "FRIEND_INVITE";
    public const string FriendAgree = "FRIEND_AGREE";
    public const string FriendRemove = "FRIEND_REMOVE";
    public const string GroupJoin = "GROUP_JOIN";
    public const string GroupLeave = "GROUP_LEAVE";

    private static readonly JsonSerializerOptions Json = new()
    {
        // Letters of every script as they are (a Chinese invitation stays readable, at half the
        // size of its \u escapes); quotes and HTML-sensitive characters are still escaped.
        Encoder = JavaScriptEncoder.Create(UnicodeRanges.All),
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private sealed record Envelope<T>(int Code, string Msg, T Data);

    private sealed record InviteData(string Key, string Id, string Msg);

    private sealed record AgreeData(string Key, string Id);

    private sealed record RemoveData(string Key, string UserId);

    private sealed record GroupJoinData(string Key, string GroupId, IReadOnlyList<string> UserIds, int MemberCount);

    private sealed record GroupLeaveData(string Key, string GroupId, string UserId, int MemberCount);

    private static string Content<T>(T data) => JsonSerializer.Serialize(new Envelope<T>(200, "SUCCESS", data), Json);

    /// <summary>The event's content with its place in the recipient's update stream, as <c>data.position</c>.</summary>
    public static string WithPosition(string content, long position)
    {
        var envelope = JsonNode.Parse(content)!.AsObject();
        envelope["data"]!.AsObject()["position"] = position;
        return envelope.ToJsonString(Json);
    }

    /// <summary>To the invitee: <c>from_user_id</c> is the inviter, <c>data.id</c> the request id.</summary>
    public static WireMessage Invite(long requestId, long inviterId, long inviteeId, string? message) => new()
    {
        MsgType = EventMsgType,
        FromUserId = inviterId,
        ToUserId = inviteeId,
        Content = Content(new InviteData(FriendInvite, requestId.ToString(), message ?? "")),
    };

    /// <summary>To the inviter: <c>from_user_id</c> is the one who agreed.</summary>
    public static WireMessage Agree(long requestId, long inviterId, long inviteeId) => new()
    {
        MsgType = EventMsgType,
        FromUserId = inviteeId,
        ToUserId = inviterId,
        Content = Content(new AgreeData(FriendAgree, requestId.ToString())),
    };

    /// <summary>
    /// To either side of an ended friendship (the remover's other devices too): <c>from_user_id</c> is
    /// the remover, <c>data.user_id</c> the recipient's former friend.
    /// </summary>
    public static WireMessage FriendRemoved(long removerId, long recipientId, long formerFriendId) => new()
    {
        MsgType = EventMsgType,
        FromUserId = removerId,
        ToUserId = recipientId,
        Content = Content(new RemoveData(FriendRemove, formerFriendId.ToString())),
    };

    /// <summary>To every member after an invitation, newcomers included: <c>from_user_id</c> is the inviter.</summary>
    public static WireMessage MembersJoined(long groupId, long inviterId, long recipientId, IEnumerable<long> userIds, int memberCount) => new()
    {
        MsgType = EventMsgType,
        FromUserId = inviterId,
        ToUserId = recipientId,
        Content = Content(new GroupJoinData(GroupJoin, groupId.ToString(), userIds.Select(id => id.ToString()).ToList(), memberCount)),
    };

    /// <summary>To the members left and to the leaver (their other devices): <c>from_user_id</c> is the leaver.</summary>
    public static WireMessage MemberLeft(long groupId, long leaverId, long recipientId, int memberCount) => new()
    {
        MsgType = EventMsgType,
        FromUserId = leaverId,
        ToUserId = recipientId,
        Content = Content(new GroupLeaveData(GroupLeave, groupId.ToString(), leaverId.ToString(), memberCount)),
    };
}
