using System.Text.Encodings.Web;
using System.Text.Json;
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

    private static string Content<T>(T data) => JsonSerializer.Serialize(new Envelope<T>(200, "SUCCESS", data), Json);

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
}
