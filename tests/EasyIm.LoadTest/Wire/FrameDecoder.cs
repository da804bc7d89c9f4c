using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace EasyIm.LoadTest.Wire;

/// <summary>
/// Reads the fields of a server frame the load client looks at, without building a <c>Msg</c>:
/// JSON with <see cref="Utf8JsonReader"/>, protobuf by its tags. Strings stay views into the frame
/// unless JSON escaped them (only event contents are escaped, and those are rare).
/// </summary>
public static class FrameDecoder
{
    public static bool TryDecode(ReadOnlySpan<byte> frame, bool json, ref Incoming msg) =>
        json ? TryDecodeJson(frame, ref msg) : TryDecodeProtobuf(frame, ref msg);

    public static bool TryDecodeJson(ReadOnlySpan<byte> frame, ref Incoming msg)
    {
        try
        {
            var reader = new Utf8JsonReader(frame);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8)) { reader.Read(); msg.Id = Long(ref reader); }
                else if (reader.ValueTextEquals("msg_type"u8)) { reader.Read(); msg.MsgType = (int)Long(ref reader); }
                else if (reader.ValueTextEquals("status"u8)) { reader.Read(); msg.Status = (int)Long(ref reader); }
                else if (reader.ValueTextEquals("seq"u8)) { reader.Read(); msg.Seq = (uint)Long(ref reader); }
                else if (reader.ValueTextEquals("content"u8)) { reader.Read(); msg.Content = Text(ref reader); }
                else if (reader.ValueTextEquals("client_msg_id"u8)) { reader.Read(); msg.ClientMsgId = Text(ref reader); }
                else if (reader.ValueTextEquals("conversation_id"u8)) { reader.Read(); msg.ConversationId = Text(ref reader); }
                else if (reader.ValueTextEquals("conversation_seq"u8)) { reader.Read(); msg.ConversationSeq = ULong(ref reader); }
                else if (reader.ValueTextEquals("chat_type"u8)) { reader.Read(); msg.ChatType = (int)Long(ref reader); }
                else if (reader.ValueTextEquals("from_user_id"u8)) { reader.Read(); msg.FromUserId = Long(ref reader); }
                else if (reader.ValueTextEquals("to_user_id"u8)) { reader.Read(); msg.ToUserId = Long(ref reader); }
                else if (reader.ValueTextEquals("error"u8)) { reader.Read(); msg.Error = Text(ref reader); }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>A number written as a JSON number or as a string (64-bit values and ids are strings).</summary>
    private static long Long(scoped ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.Number when reader.TryGetInt64(out var n) => n,
        JsonTokenType.String when Utf8Parser.TryParse(reader.ValueSpan, out long n, out var used) && used == reader.ValueSpan.Length => n,
        _ => 0,
    };

    private static ulong ULong(scoped ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.Number when reader.TryGetUInt64(out var n) => n,
        JsonTokenType.String when Utf8Parser.TryParse(reader.ValueSpan, out ulong n, out var used) && used == reader.ValueSpan.Length => n,
        _ => 0,
    };

    private static ReadOnlySpan<byte> Text(scoped ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
            return default;
        return reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan;
    }

    public static bool TryDecodeProtobuf(ReadOnlySpan<byte> frame, ref Incoming msg)
    {
        var i = 0;
        while (i < frame.Length)
        {
            if (!TryVarint(frame, ref i, out var tag))
                return false;
            var field = (int)(tag >> 3);
            switch ((int)(tag & 7))
            {
                case 0:
                    if (!TryVarint(frame, ref i, out var value))
                        return false;
                    switch (field)
                    {
                        case 2: msg.Seq = (uint)value; break;
                        case 5: msg.ChatType = (int)value; break;
                        case 6: msg.MsgType = (int)value; break;
                        case 7: msg.Status = (int)value; break;
                        case 12: msg.ConversationSeq = value; break;
                    }
                    break;
                case 2:
                    if (!TryVarint(frame, ref i, out var length) || length > (ulong)(frame.Length - i))
                        return false;
                    var bytes = frame.Slice(i, (int)length);
                    i += (int)length;
                    switch (field)
                    {
                        case 1: msg.Id = Digits(bytes); break;
                        case 3: msg.FromUserId = Digits(bytes); break;
                        case 4: msg.ToUserId = Digits(bytes); break;
                        case 8: msg.Content = bytes; break;
                        case 10: msg.ClientMsgId = bytes; break;
                        case 11: msg.ConversationId = bytes; break;
                        case 14: msg.Error = bytes; break;
                    }
                    break;
                case 1:
                    i += 8;
                    break;
                case 5:
                    i += 4;
                    break;
                default:
                    return false;
            }
        }
        return i == frame.Length;
    }

    private static long Digits(ReadOnlySpan<byte> text) =>
        Utf8Parser.TryParse(text, out long n, out var used) && used == text.Length ? n : 0;

    private static bool TryVarint(ReadOnlySpan<byte> frame, ref int i, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && i < frame.Length; shift += 7)
        {
            var b = frame[i++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
                return true;
        }
        return false;
    }
}

/// <summary>The content of a server event or NOTIFY: <c>{"code":..,"msg":..,"data":{"key":..,"done":..}}</c>.</summary>
public readonly record struct ServerEvent(int Code, string? Message, string? Key, bool Done)
{
    public static ServerEvent Read(ReadOnlySpan<byte> content)
    {
        int code = 0;
        string? message = null, key = null;
        var done = false;
        try
        {
            var reader = new Utf8JsonReader(content);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("code"u8))
                {
                    reader.Read();
                    reader.TryGetInt32(out code);
                }
                else if (reader.ValueTextEquals("msg"u8))
                {
                    reader.Read();
                    message = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("data"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        reader.Skip();
                        continue;
                    }
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        if (reader.ValueTextEquals("key"u8))
                        {
                            reader.Read();
                            key = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        }
                        else if (reader.ValueTextEquals("done"u8))
                        {
                            reader.Read();
                            done = reader.TokenType == JsonTokenType.True;
                        }
                        else
                        {
                            reader.Read();
                            reader.Skip();
                        }
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return default;
        }
        return new ServerEvent(code, message, key, done);
    }
}
