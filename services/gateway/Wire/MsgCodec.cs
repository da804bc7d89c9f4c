using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Wire;
using Google.Protobuf;

namespace EasyIm.Gateway.Wire;

/// <summary>
/// <c>Msg</c> to and from bytes. JSON is protobuf's JSON mapping with the proto field names,
/// enums written as integers and 64-bit numbers as strings; the parser takes enum names or
/// integers, 64-bit numbers or strings, and an event's <c>content</c> as a JSON string (easyim)
/// or as an embedded JSON object.
/// </summary>
public static class MsgCodec
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default
        .WithFormatDefaultValues(false)
        .WithFormatEnumsAsIntegers(true)
        .WithPreserveProtoFieldNames(true));

    // Unknown fields are ignored so that clients may carry fields of their own, as easyim allowed.
    private static readonly JsonParser Parser = new(new JsonParser.Settings(recursionLimit: 16).WithIgnoreUnknownFields(true));

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static Msg Decode(ReadOnlySequence<byte> frame, WireFormat format) =>
        format == WireFormat.Json ? DecodeJson(frame) : DecodeProtobuf(frame);

    public static Msg DecodeProtobuf(ReadOnlySequence<byte> frame)
    {
        try
        {
            return Msg.Parser.ParseFrom(frame);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or ArgumentException)
        {
            throw new FrameException("the frame is not a protobuf Msg: " + ex.Message, ex);
        }
    }

    public static Msg DecodeJson(ReadOnlySequence<byte> frame)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(frame);
        }
        catch (DecoderFallbackException ex)
        {
            throw new FrameException("the frame is not UTF-8 text", ex);
        }
        if (ContentIsEmbeddedJson(frame))
            text = WithContentAsString(text);
        try
        {
            return Parser.Parse<Msg>(text);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException or OverflowException or ArgumentException)
        {
            throw new FrameException("the frame is not a JSON Msg: " + ex.Message, ex);
        }
    }

    /// <summary>The proto names of each enum field's values, under both the field's proto and JSON names.</summary>
    private static readonly Dictionary<string, HashSet<string>> EnumFields = Msg.Descriptor.Fields.InFieldNumberOrder()
        .Where(f => f.FieldType == Google.Protobuf.Reflection.FieldType.Enum)
        .SelectMany(f => new[] { f.Name, f.JsonName }.Distinct().Select(name => (name, values: f.EnumType.Values.Select(v => v.Name).ToHashSet())))
        .ToDictionary(x => x.name, x => x.values);

    /// <summary>
    /// One cheap pass over the top level: is <c>content</c> an object or array rather than a string
    /// (then it is turned into one), and is every enum given by name a known name? The protobuf
    /// parser, told to ignore unknown fields, would otherwise take an unknown name for the default
    /// (<c>"msg_type":"SHOUT"</c> would read as TEXT).
    /// </summary>
    private static bool ContentIsEmbeddedJson(ReadOnlySequence<byte> frame)
    {
        var embedded = false;
        try
        {
            var reader = new Utf8JsonReader(frame, new JsonReaderOptions { MaxDepth = 16 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                if (!reader.Read())
                    return embedded;
                if (name == "content" && reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                    embedded = true;
                else if (reader.TokenType == JsonTokenType.String && EnumFields.TryGetValue(name, out var names)
                         && !names.Contains(reader.GetString()!))
                    throw new FrameException($"\"{name}\" has no value named \"{reader.GetString()}\"");
                reader.Skip();
            }
            return embedded;
        }
        catch (JsonException)
        {
            // Not JSON at all: the protobuf parser reports it with its own message.
            return false;
        }
    }

    private static string WithContentAsString(string text)
    {
        try
        {
            var root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 16 })!.AsObject();
            root["content"] = root["content"]!.ToJsonString();
            return root.ToJsonString();
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new FrameException("the frame is not a JSON Msg: " + ex.Message, ex);
        }
    }

    public static string ToJson(Msg msg) => Formatter.Format(msg);

    public static byte[] ToJsonBytes(Msg msg) => Encoding.UTF8.GetBytes(Formatter.Format(msg));

    /// <summary>One line of newline-delimited JSON. The formatter never writes a raw newline (strings escape theirs).</summary>
    public static void WriteJsonLine(Msg msg, IBufferWriter<byte> output)
    {
        var json = Formatter.Format(msg);
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(json.Length) + 1);
        var written = Encoding.UTF8.GetBytes(json, span);
        span[written] = (byte)'\n';
        output.Advance(written + 1);
    }

    /// <summary>A varint length, then the message: <c>WriteDelimitedTo</c>'s format.</summary>
    public static void WriteDelimited(Msg msg, IBufferWriter<byte> output)
    {
        var size = msg.CalculateSize();
        output.Advance(WriteVarint(output.GetSpan(5), (uint)size));
        msg.WriteTo(output);
    }

    /// <summary>Writes <paramref name="value"/> as a base-128 varint; returns the bytes written (at most 5).</summary>
    public static int WriteVarint(Span<byte> output, uint value)
    {
        var n = 0;
        while (value >= 0x80)
        {
            output[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        output[n++] = (byte)value;
        return n;
    }

    /// <summary>The bus form of a message to the wire form: ids as decimal strings, zero ids and empty texts left out.</summary>
    public static Msg FromWire(WireMessage m) => new()
    {
        Id = IdText(m.Id),
        Seq = m.Seq,
        FromUserId = IdText(m.FromUserId),
        ToUserId = IdText(m.ToUserId),
        ChatType = (Msg.Types.ChatType)m.ChatType,
        MsgType = (Msg.Types.MsgType)m.MsgType,
        Status = (Msg.Types.MsgStatus)m.Status,
        Content = m.Content ?? "",
        ClientMsgId = m.ClientMsgId ?? "",
        ConversationId = m.ConversationId ?? "",
        ConversationSeq = m.ConversationSeq,
        SentAt = m.SentAt,
        Error = m.Error ?? "",
    };

    public static string IdText(long id) => id == 0 ? "" : id.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
