using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using EasyIm.Contracts.Wire;

namespace EasyIm.Gateway.Wire;

/// <summary>
/// <c>Msg</c> in protobuf's JSON mapping, read and written with System.Text.Json's reader and writer
/// straight from and to UTF-8: every chat frame of a JSON client passes here, and Google.Protobuf's own
/// JSON formatter and parser (reflection over descriptors, text through strings) cost several times more.
/// The mapping is the one DESIGN gives: proto field names written (both names read), enums written as
/// integers (integers or names read), 64-bit numbers written as strings (numbers or strings read),
/// fields at their default left out, <c>null</c> read as the default, unknown fields ignored, and an
/// event's <c>content</c> read as a string or as an embedded JSON value (kept as its JSON text).
/// </summary>
public static class MsgJson
{
    /// <summary>Non-ASCII text stays readable (UTF-8, not <c>\u</c> escapes), as protobuf's formatter writes it.</summary>
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 16 };

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>Writes <paramref name="msg"/> as one JSON object.</summary>
    public static void Write(Msg msg, IBufferWriter<byte> output)
    {
        var writer = t_writer;
        if (writer is null)
            t_writer = writer = new Utf8JsonWriter(output, WriterOptions);
        else
            writer.Reset(output);
        try
        {
            writer.WriteStartObject();
            String(writer, "id"u8, msg.Id);
            if (msg.Seq != 0)
                writer.WriteNumber("seq"u8, msg.Seq);
            String(writer, "from_user_id"u8, msg.FromUserId);
            String(writer, "to_user_id"u8, msg.ToUserId);
            if (msg.ChatType != 0)
                writer.WriteNumber("chat_type"u8, (int)msg.ChatType);
            if (msg.MsgType != 0)
                writer.WriteNumber("msg_type"u8, (int)msg.MsgType);
            if (msg.Status != 0)
                writer.WriteNumber("status"u8, (int)msg.Status);
            String(writer, "content"u8, msg.Content);
            String(writer, "access_token"u8, msg.AccessToken);
            String(writer, "client_msg_id"u8, msg.ClientMsgId);
            String(writer, "conversation_id"u8, msg.ConversationId);
            if (msg.ConversationSeq != 0)
                Int64AsString(writer, "conversation_seq"u8, msg.ConversationSeq);
            if (msg.SentAt != 0)
                Int64AsString(writer, "sent_at"u8, msg.SentAt);
            String(writer, "error"u8, msg.Error);
            if (msg.Position != 0)
                Int64AsString(writer, "position"u8, msg.Position);
            writer.WriteEndObject();
            writer.Flush();
        }
        finally
        {
            // The writer is reused by this thread: it must not keep the caller's buffer alive.
            writer.Reset(Stream.Null);
        }
    }

    public static byte[] ToBytes(Msg msg)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Write(msg, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static void String(Utf8JsonWriter writer, ReadOnlySpan<byte> name, string value)
    {
        if (value.Length > 0)
            writer.WriteString(name, value);
    }

    private static void Int64AsString<T>(Utf8JsonWriter writer, ReadOnlySpan<byte> name, T value) where T : IUtf8SpanFormattable
    {
        Span<byte> digits = stackalloc byte[24];
        value.TryFormat(digits, out var length, default, CultureInfo.InvariantCulture);
        writer.WriteString(name, digits[..length]);
    }

    /// <summary>Reads one JSON object as a <c>Msg</c>; anything else is a <see cref="FrameException"/>.</summary>
    public static Msg Read(ReadOnlySequence<byte> frame)
    {
        if (!IsUtf8(frame))
            throw new FrameException("the frame is not UTF-8 text");
        try
        {
            var reader = new Utf8JsonReader(frame, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw Invalid("a JSON object was expected");
            var msg = new Msg();
            while (true)
            {
                if (!reader.Read())
                    throw Invalid("the object is not closed");
                if (reader.TokenType == JsonTokenType.EndObject)
                    break;
                var field = FieldOf(ref reader);
                if (!reader.Read())
                    throw Invalid("a value was expected");
                if (field == Field.Unknown || reader.TokenType == JsonTokenType.Null)
                {
                    reader.Skip();
                    continue;
                }
                ReadField(ref reader, frame, msg, field);
            }
            if (reader.Read())
                throw Invalid("more follows the object");
            return msg;
        }
        catch (JsonException ex)
        {
            throw Invalid(ex.Message, ex);
        }
        catch (InvalidOperationException ex)
        {
            // System.Text.Json will not make a string of escapes that spell an unpaired surrogate.
            throw Invalid(ex.Message, ex);
        }
    }

    private static bool IsUtf8(ReadOnlySequence<byte> frame)
    {
        if (frame.IsSingleSegment)
            return Utf8.IsValid(frame.FirstSpan);
        // Rare (a frame split across buffers): one copy, so that a character split between segments is seen whole.
        var bytes = frame.Length <= 4096 ? stackalloc byte[(int)frame.Length] : new byte[frame.Length];
        frame.CopyTo(bytes);
        return Utf8.IsValid(bytes);
    }

    private enum Field
    {
        Unknown,
        Id,
        Seq,
        FromUserId,
        ToUserId,
        ChatType,
        MsgType,
        Status,
        Content,
        AccessToken,
        ClientMsgId,
        ConversationId,
        ConversationSeq,
        SentAt,
        Error,
        Position,
    }

    /// <summary>A field by its proto name or its lowerCamelCase JSON name, as protobuf's parser takes both.</summary>
    private static Field FieldOf(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped || reader.HasValueSequence)
            return FieldOf(reader.GetString()!);
        var name = reader.ValueSpan;
        return name switch
        {
            _ when name.SequenceEqual("id"u8) => Field.Id,
            _ when name.SequenceEqual("seq"u8) => Field.Seq,
            _ when name.SequenceEqual("from_user_id"u8) || name.SequenceEqual("fromUserId"u8) => Field.FromUserId,
            _ when name.SequenceEqual("to_user_id"u8) || name.SequenceEqual("toUserId"u8) => Field.ToUserId,
            _ when name.SequenceEqual("chat_type"u8) || name.SequenceEqual("chatType"u8) => Field.ChatType,
            _ when name.SequenceEqual("msg_type"u8) || name.SequenceEqual("msgType"u8) => Field.MsgType,
            _ when name.SequenceEqual("status"u8) => Field.Status,
            _ when name.SequenceEqual("content"u8) => Field.Content,
            _ when name.SequenceEqual("access_token"u8) || name.SequenceEqual("accessToken"u8) => Field.AccessToken,
            _ when name.SequenceEqual("client_msg_id"u8) || name.SequenceEqual("clientMsgId"u8) => Field.ClientMsgId,
            _ when name.SequenceEqual("conversation_id"u8) || name.SequenceEqual("conversationId"u8) => Field.ConversationId,
            _ when name.SequenceEqual("conversation_seq"u8) || name.SequenceEqual("conversationSeq"u8) => Field.ConversationSeq,
            _ when name.SequenceEqual("sent_at"u8) || name.SequenceEqual("sentAt"u8) => Field.SentAt,
            _ when name.SequenceEqual("error"u8) => Field.Error,
            _ when name.SequenceEqual("position"u8) => Field.Position,
            _ => Field.Unknown,
        };
    }

    private static Field FieldOf(string name) => name switch
    {
        "id" => Field.Id,
        "seq" => Field.Seq,
        "from_user_id" or "fromUserId" => Field.FromUserId,
        "to_user_id" or "toUserId" => Field.ToUserId,
        "chat_type" or "chatType" => Field.ChatType,
        "msg_type" or "msgType" => Field.MsgType,
        "status" => Field.Status,
        "content" => Field.Content,
        "access_token" or "accessToken" => Field.AccessToken,
        "client_msg_id" or "clientMsgId" => Field.ClientMsgId,
        "conversation_id" or "conversationId" => Field.ConversationId,
        "conversation_seq" or "conversationSeq" => Field.ConversationSeq,
        "sent_at" or "sentAt" => Field.SentAt,
        "error" => Field.Error,
        "position" => Field.Position,
        _ => Field.Unknown,
    };

    private static void ReadField(ref Utf8JsonReader reader, ReadOnlySequence<byte> frame, Msg msg, Field field)
    {
        switch (field)
        {
            case Field.Id: msg.Id = Text(ref reader, "id"); break;
            case Field.Seq: msg.Seq = (uint)Integer(ref reader, "seq", 0, uint.MaxValue); break;
            case Field.FromUserId: msg.FromUserId = Text(ref reader, "from_user_id"); break;
            case Field.ToUserId: msg.ToUserId = Text(ref reader, "to_user_id"); break;
            case Field.ChatType: msg.ChatType = (Msg.Types.ChatType)Enum(ref reader, "chat_type", ChatTypes); break;
            case Field.MsgType: msg.MsgType = (Msg.Types.MsgType)Enum(ref reader, "msg_type", MsgTypes); break;
            case Field.Status: msg.Status = (Msg.Types.MsgStatus)Enum(ref reader, "status", Statuses); break;
            case Field.Content: msg.Content = Content(ref reader, frame); break;
            case Field.AccessToken: msg.AccessToken = Text(ref reader, "access_token"); break;
            case Field.ClientMsgId: msg.ClientMsgId = Text(ref reader, "client_msg_id"); break;
            case Field.ConversationId: msg.ConversationId = Text(ref reader, "conversation_id"); break;
            case Field.ConversationSeq: msg.ConversationSeq = UInt64(ref reader, "conversation_seq"); break;
            case Field.SentAt: msg.SentAt = (long)Integer(ref reader, "sent_at", long.MinValue, long.MaxValue); break;
            case Field.Error: msg.Error = Text(ref reader, "error"); break;
            case Field.Position: msg.Position = UInt64(ref reader, "position"); break;
        }
    }

    private static string Text(ref Utf8JsonReader reader, string name) =>
        reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw Invalid($"\"{name}\" must be a string");

    /// <summary>An event's content: a string as is, or an embedded object or array as its JSON text, as the client wrote it.</summary>
    private static string Content(ref Utf8JsonReader reader, ReadOnlySequence<byte> frame)
    {
        if (reader.TokenType == JsonTokenType.String)
            return reader.GetString()!;
        if (reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
            throw Invalid("\"content\" must be a string or a JSON object");
        // The reader runs over the whole frame, so its indexes are offsets into it.
        var start = reader.TokenStartIndex;
        reader.Skip();
        return Encoding.UTF8.GetString(frame.Slice(start, reader.BytesConsumed - start));
    }

    private static decimal Integer(ref Utf8JsonReader reader, string name, decimal min, decimal max)
    {
        decimal value;
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (!reader.TryGetDecimal(out value))
                throw Invalid($"\"{name}\" is out of range");
        }
        else if (reader.TokenType == JsonTokenType.String)
        {
            if (!decimal.TryParse(reader.GetString(), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
                    CultureInfo.InvariantCulture, out value))
                throw Invalid($"\"{name}\" must be an integer");
        }
        else
        {
            throw Invalid($"\"{name}\" must be an integer");
        }
        if (value != decimal.Truncate(value) || value < min || value > max)
            throw Invalid($"\"{name}\" must be an integer from {min} to {max}");
        return value;
    }

    private static ulong UInt64(ref Utf8JsonReader reader, string name) => (ulong)Integer(ref reader, name, 0, ulong.MaxValue);

    private static readonly Dictionary<string, int> ChatTypes = Names<Msg.Types.ChatType>();
    private static readonly Dictionary<string, int> MsgTypes = Names<Msg.Types.MsgType>();
    private static readonly Dictionary<string, int> Statuses = Names<Msg.Types.MsgStatus>();

    /// <summary>The proto names of an enum's values (the generated C# names are their PascalCase forms).</summary>
    private static Dictionary<string, int> Names<T>() where T : struct, System.Enum =>
        System.Enum.GetValues<T>().ToDictionary(
            v => typeof(T).GetField(v.ToString())!.GetCustomAttributes(typeof(Google.Protobuf.Reflection.OriginalNameAttribute), false)
                .Cast<Google.Protobuf.Reflection.OriginalNameAttribute>().Single().Name,
            v => Convert.ToInt32(v, CultureInfo.InvariantCulture),
            StringComparer.Ordinal);

    /// <summary>An enum by number (any int32: proto3 enums are open) or by one of its value names.</summary>
    private static int Enum(ref Utf8JsonReader reader, string name, Dictionary<string, int> names)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            var text = reader.GetString()!;
            return names.TryGetValue(text, out var value) ? value : throw Invalid($"\"{name}\" has no value named \"{text}\"");
        }
        return (int)Integer(ref reader, name, int.MinValue, int.MaxValue);
    }

    private static FrameException Invalid(string problem, Exception? inner = null) =>
        new("the frame is not a JSON Msg: " + problem, inner);
}
