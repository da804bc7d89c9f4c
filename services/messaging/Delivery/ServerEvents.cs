using EasyIm.Contracts.Gateway;
using EasyIm.Messaging.Data;

namespace EasyIm.Messaging.Delivery;

/// <summary>The messages messaging sends to clients: stored messages and FAILs as they are, events typed (the gateway writes their content).</summary>
public static class ServerEvents
{
    /// <summary>A stored message as recipients, history and sync see it.</summary>
    public static WireMessage Stored(Message m) => new()
    {
        Id = m.Id,
        FromUserId = m.SenderId,
        ToUserId = m.ToId,
        ChatType = m.ChatType,
        MsgType = m.MsgType,
        Status = m.Status,
        Content = m.Content,
        ClientMsgId = m.ClientMsgId,
        ConversationId = m.ConversationId,
        ConversationSeq = (ulong)m.ConversationSeq,
        SentAt = m.SentAtMs,
    };

    /// <summary>The SENT ack to the sending connection: the stored message, with the client's own seq echoed.</summary>
    public static WireMessage Ack(Message m, uint clientSeq) => Stored(m) with { Status = MessageStatus.Sent, Seq = clientSeq };

    /// <summary>A refusal: status FAIL with the reason; the client's seq and client_msg_id echoed so it can match it.</summary>
    public static WireMessage Fail(long senderId, WireMessage submitted, string error) => new()
    {
        Seq = submitted.Seq,
        FromUserId = senderId,
        ToUserId = submitted.ToUserId,
        ChatType = submitted.ChatType,
        MsgType = submitted.MsgType,
        Status = MessageStatus.Fail,
        ClientMsgId = submitted.ClientMsgId,
        Error = error,
    };

    /// <summary>An ARRIVED or READ receipt for the senders of the messages up to <paramref name="seq"/>, at <paramref name="position"/> of the sender's stream (0: none).</summary>
    /// <param name="readers">In a group, every reader the update covers when more than one (<see cref="ReceiptEvent.UserIds"/>).</param>
    public static WireMessage Receipt(int status, long readerId, long toUserId, int chatType, string conversationId, long seq, long position = 0,
        IReadOnlyList<long>? readers = null) => new()
    {
        FromUserId = readerId,
        ToUserId = toUserId,
        ChatType = chatType,
        MsgType = EventKeys.EventMsgType,
        Status = status,
        ConversationId = conversationId,
        Event = new ReceiptEvent(conversationId, seq, readerId, status == MessageStatus.Read, readers) { Position = position },
    };

    /// <summary>A TYPING event relayed to a peer or a group member.</summary>
    public static WireMessage Typing(long fromUserId, long toId, int chatType, string conversationId) => new()
    {
        FromUserId = fromUserId,
        ToUserId = toId,
        ChatType = chatType,
        MsgType = EventKeys.EventMsgType,
        ConversationId = conversationId,
        Event = new TypingEvent(conversationId, fromUserId),
    };

    /// <summary>
    /// Closes a sync: everything the connection was missing has been pushed before it. <paramref name="retainedFrom"/>
    /// names the conversations whose cursor was older than their kept history, with the first seq kept.
    /// </summary>
    public static WireMessage SyncDone(long userId, IReadOnlyDictionary<string, ulong>? retainedFrom = null, long head = 0, bool positionExpired = false) => new()
    {
        ToUserId = userId,
        MsgType = EventKeys.EventMsgType,
        Event = new SyncDoneEvent(retainedFrom is { Count: > 0 } ? retainedFrom : null, head, positionExpired),
    };
}
