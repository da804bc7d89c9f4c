using System.Buffers;
using System.Text;
using System.Text.Json;
using EasyIm.Contracts.Gateway;
using EasyIm.Messaging.Data;

namespace EasyIm.Messaging.Delivery;

/// <summary>The messages messaging sends to clients, in the wire protocol's shapes.</summary>
public static class ServerEvents
{
    public const int EventMsgType = 4;

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

    /// <summary>An ARRIVED or READ receipt for the senders of the messages up to <paramref name="seq"/>.</summary>
    public static WireMessage Receipt(int status, long readerId, long toUserId, int chatType, string conversationId, long seq) => new()
    {
        FromUserId = readerId,
        ToUserId = toUserId,
        ChatType = chatType,
        MsgType = EventMsgType,
        Status = status,
        ConversationId = conversationId,
        Content = Content(status == MessageStatus.Read ? "READ" : "ARRIVED", w =>
        {
            w.WriteString("conversation_id", conversationId);
            w.WriteNumber("seq", seq);
            w.WriteString("user_id", readerId.ToString());
        }),
    };

    /// <summary>A TYPING event relayed to a peer or a group member.</summary>
    public static WireMessage Typing(long fromUserId, long toId, int chatType, string conversationId) => new()
    {
        FromUserId = fromUserId,
        ToUserId = toId,
        ChatType = chatType,
        MsgType = EventMsgType,
        ConversationId = conversationId,
        Content = Content("TYPING", w =>
        {
            w.WriteString("conversation_id", conversationId);
            w.WriteString("user_id", fromUserId.ToString());
        }),
    };

    /// <summary>
    /// Closes a sync: everything the connection was missing has been pushed before it. <paramref name="retainedFrom"/>
    /// names the conversations whose cursor was older than their kept history, with the first seq kept.
    /// </summary>
    public static WireMessage SyncDone(long userId, IReadOnlyDictionary<string, ulong>? retainedFrom = null) => new()
    {
        ToUserId = userId,
        MsgType = EventMsgType,
        Content = Content("SYNC", w =>
        {
            w.WriteBoolean("done", true);
            if (retainedFrom is not { Count: > 0 })
                return;
            w.WriteStartObject("retained_from_seq");
            foreach (var (conversationId, seq) in retainedFrom.OrderBy(r => r.Key, StringComparer.Ordinal))
                w.WriteNumber(conversationId, seq);
            w.WriteEndObject();
        }),
    };

    /// <summary>The server event form: <c>{"code":200,"msg":"SUCCESS","data":{"key":..,..}}</c>.</summary>
    public static string Content(string key, Action<Utf8JsonWriter>? data = null)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("code", 200);
            writer.WriteString("msg", "SUCCESS");
            writer.WriteStartObject("data");
            writer.WriteString("key", key);
            data?.Invoke(writer);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
