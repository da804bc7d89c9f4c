using System.Buffers;
using System.Text;
using System.Text.Json;
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

    public static Msg DecodeJson(ReadOnlySequence<byte> frame) => MsgJson.Read(frame);

    public static string ToJson(Msg msg) => Encoding.UTF8.GetString(MsgJson.ToBytes(msg));

    public static byte[] ToJsonBytes(Msg msg) => MsgJson.ToBytes(msg);

    /// <summary>One line of newline-delimited JSON. The writer never writes a raw newline (strings escape theirs).</summary>
    public static void WriteJsonLine(Msg msg, IBufferWriter<byte> output)
    {
        MsgJson.Write(msg, output);
        output.GetSpan(1)[0] = (byte)'\n';
        output.Advance(1);
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
        Content = m.Event is { } e ? EventContent.Render(e) : m.Content ?? "",
        ClientMsgId = m.ClientMsgId ?? "",
        ConversationId = m.ConversationId ?? "",
        ConversationSeq = m.ConversationSeq,
        SentAt = m.SentAt,
        Error = m.Error ?? "",
    };

    public static string IdText(long id) => id == 0 ? "" : id.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
