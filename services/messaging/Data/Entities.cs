namespace EasyIm.Messaging.Data;

/// <summary>A stored chat message. Its place in its conversation is <see cref="ConversationSeq"/>, gap-free from 1.</summary>
public sealed class Message
{
    public long Id { get; set; }
    public required string ConversationId { get; set; }
    public long ConversationSeq { get; set; }
    public long SenderId { get; set; }
    /// <summary>The recipient of a one-to-one message, or the group of a group message (the wire's to_user_id).</summary>
    public long ToId { get; set; }
    /// <summary>The sender's idempotency key: unique per sender.</summary>
    public required string ClientMsgId { get; set; }
    public int ChatType { get; set; }
    public int MsgType { get; set; }
    public required string Content { get; set; }
    public long SentAtMs { get; set; }
    /// <summary>
    /// SENT when stored. How far a one-to-one message got (ARRIVED, READ) is read off its recipient's cursors
    /// (<see cref="Delivery.DeliveryStates"/>), so receipts never rewrite message rows; rows stored by
    /// earlier versions may carry ARRIVED or READ here, and the higher of the two wins.
    /// </summary>
    public int Status { get; set; } = MessageStatus.Sent;
    /// <summary>Set by earlier versions only (receipts no longer touch message rows).</summary>
    public long? ArrivedAtMs { get; set; }
    /// <summary>Set by earlier versions only (receipts no longer touch message rows).</summary>
    public long? ReadAtMs { get; set; }
}

public static class MessageStatus
{
    public const int Fail = 0;
    public const int Sent = 1;
    public const int Arrived = 2;
    public const int Read = 3;
}

/// <summary>
/// A conversation's sequence counter and participants. <see cref="LastSeq"/> only grows, under the
/// row's lock, in the same transaction as the messages it numbers.
/// </summary>
public sealed class Conversation
{
    public required string Id { get; set; }
    /// <summary>0 one-to-one, 1 group (the chat_type).</summary>
    public int Kind { get; set; }
    public long LastSeq { get; set; }
    /// <summary>One-to-one participants, smaller id first; 0 for a group.</summary>
    public long UserA { get; set; }
    public long UserB { get; set; }
    /// <summary>The group of a group conversation; 0 for one-to-one.</summary>
    public long GroupId { get; set; }
    public long LastMessageId { get; set; }
    public long LastSentAtMs { get; set; }
    /// <summary>
    /// The highest seq retention has deleted (0: none), raised in the transaction that deletes: history
    /// and sync start after it and unread counts never reach below it. Seqs are never reused, so
    /// <see cref="LastSeq"/> keeps counting.
    /// </summary>
    public long PrunedThroughSeq { get; set; }
    /// <summary>
    /// A group whose messages take no positions in its members' streams: set, in the storing transaction, by the first
    /// message stored while the group had more members than <c>Messaging:StreamMaxGroupMembers</c>, and never cleared.
    /// A sync after a position goes on in such a group from the device's seqs or the ARRIVED cursors, since its
    /// messages are not all in the stream, even after the group shrank (docs/architecture.md, "Large groups").
    /// </summary>
    public bool OwnStream { get; set; }
}

/// <summary>
/// The newest position of a user's update stream (issue 14). Every message in any of the user's conversations
/// (their own included) takes the user's next position, 1, 2, 3, ... without gaps, in the transaction that stores
/// it; the row is locked until that commits, so positions follow commit order.
/// </summary>
public sealed class StreamHead
{
    public long UserId { get; set; }
    public long Position { get; set; }
}

/// <summary>
/// A run of a user's update stream: positions <see cref="Position"/> .. Position + (SeqTo - SeqFrom) are the messages
/// <see cref="SeqFrom"/> .. <see cref="SeqTo"/> of one conversation, stored in one transaction. One row per member
/// and conversation per transaction, however many messages it holds; "everything after position P" is the rows
/// past P. Rows older than <c>Messaging:StreamRetentionDays</c> are pruned: a client further behind syncs by its
/// conversations' cursors instead.
/// </summary>
public sealed class StreamEntry
{
    public long UserId { get; set; }
    public long Position { get; set; }
    public required string ConversationId { get; set; }
    public long SeqFrom { get; set; }
    public long SeqTo { get; set; }
    public long CreatedAtMs { get; set; }
}

/// <summary>
/// An event of a user's update stream that is not a chat message (friend and group events, appended by
/// <see cref="Consumers.AppendStreamUpdatesConsumer"/> from the friends service's outbox), at its position: the
/// positions chat messages take (<see cref="StreamEntry"/>) and these are one sequence per user, without gaps.
/// </summary>
public sealed class StreamEvent
{
    public long UserId { get; set; }
    public long Position { get; set; }
    /// <summary>The update's id from its sender: a repeat publish finds it and appends nothing.</summary>
    public Guid EventId { get; set; }
    public long FromUserId { get; set; }
    /// <summary>The event, typed (<see cref="EasyIm.Contracts.Gateway.ClientEventJson"/>), its position included.</summary>
    public required string Content { get; set; }
    public long CreatedAtMs { get; set; }
}

/// <summary>How far a user has received (ARRIVED) and read (READ) a conversation. Neither ever moves backwards.</summary>
public sealed class ConversationCursor
{
    public long UserId { get; set; }
    public required string ConversationId { get; set; }
    public long ArrivedSeq { get; set; }
    public long ReadSeq { get; set; }
}

/// <summary>
/// Projection of the friends service's friendships, one row per direction, kept (not deleted) when
/// a friendship ends so that an older event arriving late cannot revive it.
/// </summary>
public sealed class Friendship
{
    public long UserId { get; set; }
    public long FriendId { get; set; }
    public bool Active { get; set; }
    /// <summary>Time of the event that last changed the row, unix ms: older events are ignored.</summary>
    public long ChangedAtMs { get; set; }
}

/// <summary>
/// Projection of the friends service's blocks: <see cref="UserId"/> blocks <see cref="BlockedId"/> while
/// <see cref="Active"/>; kept when lifted (inactive), so that an older event arriving late cannot bring a block back.
/// </summary>
public sealed class Block
{
    public long UserId { get; set; }
    public long BlockedId { get; set; }
    public bool Active { get; set; }
    /// <summary>Time of the event that last changed the row, unix ms: older events are ignored.</summary>
    public long ChangedAtMs { get; set; }
}

/// <summary>Projection of the friends service's group memberships; rows of members who left are kept, inactive (see <see cref="Friendship"/>).</summary>
public sealed class GroupMember
{
    public long GroupId { get; set; }
    public long UserId { get; set; }
    public bool Active { get; set; }
    public required string Role { get; set; }
    /// <summary>A muted member may not send to the group. No event or API sets it yet.</summary>
    public bool Muted { get; set; }
    public long ChangedAtMs { get; set; }
}

/// <summary>Group-wide settings messaging enforces. No event or API sets them yet.</summary>
public sealed class GroupSettings
{
    public long GroupId { get; set; }
    /// <summary>Only the owner may send to a muted group.</summary>
    public bool Muted { get; set; }
}

public static class GroupRoles
{
    public const string Owner = "owner";
    public const string Member = "member";
}
