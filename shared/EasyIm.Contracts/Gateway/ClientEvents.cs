using System.Text.Json.Serialization;

namespace EasyIm.Contracts.Gateway;

/// <summary>
/// The keys of the events in <c>content</c> (<c>data.key</c>) and the message types that carry them: defined here
/// once, for the gateway that writes and reads them and for the services that name them.
/// </summary>
public static class EventKeys
{
    /// <summary><c>msg_type</c> of a server or client event.</summary>
    public const int EventMsgType = 4;

    /// <summary><c>msg_type</c> of a NOTIFY (an error about the connection or a frame).</summary>
    public const int NotifyMsgType = 5;

    public const string KeepAlive = "KEEP_ALIVE";
    public const string FriendInvite = "FRIEND_INVITE";
    public const string FriendAgree = "FRIEND_AGREE";
    public const string FriendRemove = "FRIEND_REMOVE";
    public const string GroupJoin = "GROUP_JOIN";
    public const string GroupLeave = "GROUP_LEAVE";
    public const string Arrived = "ARRIVED";
    public const string Read = "READ";
    public const string Sync = "SYNC";
    public const string Typing = "TYPING";
}

/// <summary>
/// An event for a client, as a service says it: typed, with no client JSON. The gateway alone turns it into the
/// frame's <c>content</c> (easyim's <c>{"code":200,"msg":"SUCCESS","data":{"key":..,..}}</c>), so the client
/// protocol is written in one place. <see cref="Position"/> is the event's place in its recipient's update
/// stream (<c>data.position</c>), 0 for an event that is not in it (receipts, typing, the end of a sync).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "$event")]
[JsonDerivedType(typeof(FriendInviteEvent), EventKeys.FriendInvite)]
[JsonDerivedType(typeof(FriendAgreeEvent), EventKeys.FriendAgree)]
[JsonDerivedType(typeof(FriendRemoveEvent), EventKeys.FriendRemove)]
[JsonDerivedType(typeof(GroupJoinEvent), EventKeys.GroupJoin)]
[JsonDerivedType(typeof(GroupLeaveEvent), EventKeys.GroupLeave)]
[JsonDerivedType(typeof(ReceiptEvent), "RECEIPT")]
[JsonDerivedType(typeof(TypingEvent), EventKeys.Typing)]
[JsonDerivedType(typeof(SyncDoneEvent), EventKeys.Sync)]
public abstract record ClientEvent
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Position { get; init; }
}

/// <summary>To the invitee: <paramref name="RequestId"/> is the request, <paramref name="Message"/> the inviter's note.</summary>
public sealed record FriendInviteEvent(long RequestId, string Message) : ClientEvent;

/// <summary>To the inviter: their request <paramref name="RequestId"/> was accepted.</summary>
public sealed record FriendAgreeEvent(long RequestId) : ClientEvent;

/// <summary>To either side of an ended friendship: <paramref name="FormerFriendId"/> is the recipient's former friend.</summary>
public sealed record FriendRemoveEvent(long FormerFriendId) : ClientEvent;

/// <summary>To every member after an invitation (newcomers included): who joined, and the count after.</summary>
public sealed record GroupJoinEvent(long GroupId, IReadOnlyList<long> UserIds, int MemberCount) : ClientEvent;

/// <summary>
/// To the members left and to the leaver: who left, and the count after. <paramref name="ByUserId"/>: the owner (or an
/// admin) who removed them; 0 when they left.
/// </summary>
public sealed record GroupLeaveEvent(long GroupId, long UserId, int MemberCount,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] long ByUserId = 0) : ClientEvent;

/// <summary>
/// An ARRIVED (or, <paramref name="Read"/>, READ) receipt: <paramref name="UserId"/> has the conversation through
/// <paramref name="Seq"/>. In a group, the receipts of one moment are one update for each sender: <paramref name="Seq"/> is
/// the highest of them, <paramref name="UserId"/> that reader, and <paramref name="UserIds"/> every reader it covers (when
/// more than one).
/// </summary>
public sealed record ReceiptEvent(string ConversationId, long Seq, long UserId, bool Read,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<long>? UserIds = null) : ClientEvent;

/// <summary><paramref name="UserId"/> is typing in the conversation.</summary>
public sealed record TypingEvent(string ConversationId, long UserId) : ClientEvent;

/// <summary>
/// The end of a sync; <paramref name="RetainedFromSeq"/> names the conversations whose cursor was older than their
/// kept history, with the first seq kept. A sync after a stream position also gives <paramref name="Head"/>, the
/// user's position it brought the device to, and <paramref name="PositionExpired"/> when the device's position was
/// older than the kept stream (that sync went from the user's ARRIVED cursors instead).
/// </summary>
public sealed record SyncDoneEvent(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, ulong>? RetainedFromSeq = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] long Head = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool PositionExpired = false) : ClientEvent;

/// <summary>
/// A <see cref="ClientEvent"/> as a service stores it (friends' update stream): JSON with snake_case names and the
/// kind in <c>$event</c>. Not the client's form: the gateway renders that from the event.
/// </summary>
public static class ClientEventJson
{
    private static readonly System.Text.Json.JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Serialize(ClientEvent e) => System.Text.Json.JsonSerializer.Serialize(e, Options);

    /// <summary>The event stored as <paramref name="json"/>; null when it is not one (text of another form).</summary>
    public static ClientEvent? TryDeserialize(string json)
    {
        if (!json.StartsWith("{\"$event\"", StringComparison.Ordinal))
            return null;
        return System.Text.Json.JsonSerializer.Deserialize<ClientEvent>(json, Options);
    }
}
