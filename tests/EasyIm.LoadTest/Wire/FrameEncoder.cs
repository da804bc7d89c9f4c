using System.Text;

namespace EasyIm.LoadTest.Wire;

/// <summary>
/// The few frames a load client sends, written straight as bytes in either format (DESIGN.md's wire
/// protocol): JSON with the proto field names, or protobuf with fields in number order as
/// Google.Protobuf writes them. Every text here is ours (ids, tokens, ASCII content), so JSON needs no
/// escaping beyond the quotes of an event's content; <see cref="ChatText"/> (the abuse scenario's
/// hostile content) escapes all it must.
/// </summary>
public static class FrameEncoder
{
    private const int Seq = 2, FromUserId = 3, ToUserId = 4, ChatType = 5, MsgType = 6, Content = 8, AccessToken = 9, ClientMsgId = 10;

    /// <summary>A chat message (msg_type TEXT).</summary>
    public static int Chat(Span<byte> into, bool json, long to, int chatType, ReadOnlySpan<byte> content, ReadOnlySpan<byte> clientMsgId, uint seq)
    {
        var w = new SpanWriter(into);
        if (json)
        {
            w.Bytes("{\"to_user_id\":\""u8);
            w.Number(to);
            w.Bytes("\",\"chat_type\":"u8);
            w.Number(chatType);
            w.Bytes(",\"msg_type\":0,\"content\":\""u8);
            w.Bytes(content);
            w.Bytes("\",\"seq\":"u8);
            w.Number(seq);
            w.Bytes(",\"client_msg_id\":\""u8);
            w.Bytes(clientMsgId);
            w.Bytes("\"}"u8);
        }
        else
        {
            w.VarintField(Seq, seq);
            w.NumberStringField(ToUserId, to);
            w.VarintField(ChatType, (ulong)chatType);
            w.StringField(Content, content);
            w.StringField(ClientMsgId, clientMsgId);
        }
        return w.Length;
    }

    /// <summary>The heartbeat: with the token it is the handshake, without it a keep-alive.</summary>
    public static int Heartbeat(Span<byte> into, bool json, long userId, string? accessToken, string? deviceId)
    {
        Span<byte> content = stackalloc byte[64 + 2 * (deviceId?.Length ?? 0)];
        var c = new SpanWriter(content);
        c.Bytes("{\"key\":\"KEEP_ALIVE\""u8);
        if (deviceId is not null)
        {
            c.Bytes(",\"device_id\":\""u8);
            c.Utf8(deviceId);
            c.Byte((byte)'"');
        }
        c.Byte((byte)'}');

        var w = new SpanWriter(into);
        if (json)
        {
            w.Bytes("{\"msg_type\":4,\"from_user_id\":\""u8);
            w.Number(userId);
            w.Byte((byte)'"');
            if (accessToken is not null)
            {
                w.Bytes(",\"access_token\":\""u8);
                w.Utf8(accessToken);
                w.Byte((byte)'"');
            }
            w.Bytes(",\"content\":\""u8);
            Escaped(ref w, c.Written);
            w.Bytes("\"}"u8);
        }
        else
        {
            // Field 3 first: a protobuf heartbeat must never look like JSON or HTTP to the gateway's sniffer.
            w.NumberStringField(FromUserId, userId);
            w.VarintField(MsgType, 4);
            w.StringField(Content, c.Written);
            if (accessToken is not null)
            {
                Span<byte> token = stackalloc byte[accessToken.Length * 3];
                var t = new SpanWriter(token);
                t.Utf8(accessToken);
                w.StringField(AccessToken, t.Written);
            }
        }
        return w.Length;
    }

    /// <summary>The ARRIVED receipt: every message of the conversation up to <paramref name="seq"/> arrived.</summary>
    public static int Arrived(Span<byte> into, bool json, ReadOnlySpan<byte> conversationId, ulong seq) =>
        Receipt(into, json, read: false, conversationId, seq);

    /// <summary>An ARRIVED receipt, or with <paramref name="read"/> a READ one, up to <paramref name="seq"/>.</summary>
    public static int Receipt(Span<byte> into, bool json, bool read, ReadOnlySpan<byte> conversationId, ulong seq)
    {
        Span<byte> content = stackalloc byte[80 + conversationId.Length];
        var c = new SpanWriter(content);
        c.Bytes(read ? "{\"key\":\"READ\",\"conversation_id\":\""u8 : "{\"key\":\"ARRIVED\",\"conversation_id\":\""u8);
        c.Bytes(conversationId);
        c.Bytes("\",\"seq\":"u8);
        c.Number(seq);
        c.Byte((byte)'}');
        return Event(into, json, c.Written);
    }

    /// <summary>A SYNC asking for what follows <paramref name="afterSeq"/> in one conversation (0: its whole history).</summary>
    public static int Sync(Span<byte> into, bool json, ReadOnlySpan<byte> conversationId, ulong afterSeq)
    {
        Span<byte> content = stackalloc byte[80 + conversationId.Length];
        var c = new SpanWriter(content);
        c.Bytes("{\"key\":\"SYNC\",\"conversations\":{\""u8);
        c.Bytes(conversationId);
        c.Bytes("\":"u8);
        c.Number(afterSeq);
        c.Bytes("}}"u8);
        return Event(into, json, c.Written);
    }

    /// <summary>A SYNC naming several conversations, each with the last seq the client has of it.</summary>
    public static int Sync(Span<byte> into, bool json, IReadOnlyList<KeyValuePair<string, ulong>> cursors)
    {
        var content = new byte[64 + cursors.Sum(c => c.Key.Length + 24)];
        var c = new SpanWriter(content);
        c.Bytes("{\"key\":\"SYNC\",\"conversations\":{"u8);
        for (var i = 0; i < cursors.Count; i++)
        {
            c.Bytes(i == 0 ? "\""u8 : ",\""u8);
            c.Bytes(Encoding.ASCII.GetBytes(cursors[i].Key));
            c.Bytes("\":"u8);
            c.Number(cursors[i].Value);
        }
        c.Bytes("}}"u8);
        return Event(into, json, c.Written);
    }

    /// <summary>
    /// A chat message whose content may be any text (control characters, U+0000, quotes): escaped for
    /// JSON, UTF-8 in protobuf. For content the load tool does not write itself, where <see cref="Chat"/>
    /// writes its own ASCII as is. <paramref name="into"/> needs <see cref="MaxChatTextLength"/> bytes.
    /// </summary>
    public static int ChatText(Span<byte> into, bool json, long to, int chatType, string content, ReadOnlySpan<byte> clientMsgId, uint seq)
    {
        var utf8 = Encoding.UTF8.GetBytes(content);
        if (!json)
            return Chat(into, json, to, chatType, utf8, clientMsgId, seq);
        var escaped = new byte[6 * utf8.Length];
        var e = new SpanWriter(escaped);
        JsonEscaped(ref e, utf8);
        return Chat(into, json, to, chatType, e.Written, clientMsgId, seq);
    }

    /// <summary>Room enough for <see cref="ChatText"/> with content of <paramref name="contentChars"/> UTF-16 characters and a short id.</summary>
    public static int MaxChatTextLength(int contentChars) => 256 + 18 * contentChars;

    private static int Event(Span<byte> into, bool json, scoped ReadOnlySpan<byte> content)
    {
        var w = new SpanWriter(into);
        if (json)
        {
            w.Bytes("{\"msg_type\":4,\"content\":\""u8);
            Escaped(ref w, content);
            w.Bytes("\"}"u8);
        }
        else
        {
            w.VarintField(MsgType, 4);
            w.StringField(Content, content);
        }
        return w.Length;
    }

    /// <summary>Room enough for any frame these methods write with a token of this length.</summary>
    public static int MaxLength(int tokenLength) => 512 + 3 * tokenLength;

    /// <summary>UTF-8 text as a JSON string's inside: quotes and backslashes escaped, control characters as <c>\\u00XX</c>.</summary>
    private static void JsonEscaped(ref SpanWriter w, scoped ReadOnlySpan<byte> utf8)
    {
        foreach (var b in utf8)
        {
            if (b is (byte)'"' or (byte)'\\')
            {
                w.Byte((byte)'\\');
                w.Byte(b);
            }
            else if (b < 0x20)
            {
                w.Bytes("\\u00"u8);
                w.Byte((byte)"0123456789abcdef"[b >> 4]);
                w.Byte((byte)"0123456789abcdef"[b & 0xF]);
            }
            else
            {
                w.Byte(b);
            }
        }
    }

    private static void Escaped(ref SpanWriter w, scoped ReadOnlySpan<byte> text)
    {
        foreach (var b in text)
        {
            if (b is (byte)'"' or (byte)'\\')
                w.Byte((byte)'\\');
            w.Byte(b);
        }
    }
}
