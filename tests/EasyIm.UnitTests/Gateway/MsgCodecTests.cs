using System.Buffers;
using System.Text;
using System.Text.Json;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;
using Google.Protobuf;

namespace EasyIm.UnitTests.Gateway;

public class MsgCodecTests
{
    private static Msg Json(string text) => MsgCodec.DecodeJson(Segments.Of(text));

    [Fact]
    public void Json_is_written_with_proto_field_names_integer_enums_and_64_bit_numbers_as_strings()
    {
        var msg = new Msg
        {
            FromUserId = "384510486852403200",
            MsgType = Msg.Types.MsgType.Event,
            Status = Msg.Types.MsgStatus.Read,
            ConversationSeq = 9007199254740993,
            SentAt = 1795741643000,
            ClientMsgId = "c-1",
        };

        using var doc = JsonDocument.Parse(MsgCodec.ToJson(msg));
        var root = doc.RootElement;

        Assert.Equal("384510486852403200", root.GetProperty("from_user_id").GetString());
        Assert.Equal(4, root.GetProperty("msg_type").GetInt32());
        Assert.Equal(3, root.GetProperty("status").GetInt32());
        Assert.Equal("9007199254740993", root.GetProperty("conversation_seq").GetString());
        Assert.Equal("1795741643000", root.GetProperty("sent_at").GetString());
        Assert.Equal("c-1", root.GetProperty("client_msg_id").GetString());
        Assert.False(root.TryGetProperty("fromUserId", out _));
    }

    [Fact]
    public void Fields_at_their_default_are_left_out()
    {
        using var doc = JsonDocument.Parse(MsgCodec.ToJson(new Msg { ToUserId = "5" }));

        Assert.Equal(["to_user_id"], doc.RootElement.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void A_json_line_is_one_line_ending_in_a_newline_even_when_the_content_has_newlines()
    {
        var buffer = new ArrayBufferWriter<byte>();

        MsgCodec.WriteJsonLine(new Msg { Content = "two\nlines\r\n" }, buffer);

        var text = Encoding.UTF8.GetString(buffer.WrittenSpan);
        Assert.EndsWith("\n", text);
        Assert.Equal(1, text.Count(c => c == '\n'));
        Assert.Equal("two\nlines\r\n", Json(text).Content);
    }

    [Theory]
    [InlineData("{\"msg_type\":4,\"chat_type\":1,\"status\":2}")]
    [InlineData("{\"msg_type\":\"EVENT\",\"chat_type\":\"GROUP\",\"status\":\"ARRIVED\"}")]
    [InlineData("{\"msgType\":\"EVENT\",\"chatType\":1,\"status\":\"ARRIVED\"}")]
    public void Enums_are_read_as_integers_or_names(string json)
    {
        var msg = Json(json);

        Assert.Equal(Msg.Types.MsgType.Event, msg.MsgType);
        Assert.Equal(Msg.Types.ChatType.Group, msg.ChatType);
        Assert.Equal(Msg.Types.MsgStatus.Arrived, msg.Status);
    }

    [Theory]
    [InlineData("{\"conversation_seq\":\"12345678901234\",\"sent_at\":\"-5\",\"seq\":\"7\"}")]
    [InlineData("{\"conversation_seq\":12345678901234,\"sent_at\":-5,\"seq\":7}")]
    public void Numbers_are_read_as_json_numbers_or_strings(string json)
    {
        var msg = Json(json);

        Assert.Equal(12345678901234UL, msg.ConversationSeq);
        Assert.Equal(-5, msg.SentAt);
        Assert.Equal(7U, msg.Seq);
    }

    [Fact]
    public void Content_may_be_an_embedded_json_object()
    {
        var msg = Json("{\"msg_type\":4,\"content\":{\"key\":\"KEEP_ALIVE\",\"device_id\":\"phone\"},\"from_user_id\":\"9\"}");

        Assert.Equal("9", msg.FromUserId);
        using var content = JsonDocument.Parse(msg.Content);
        Assert.Equal("KEEP_ALIVE", content.RootElement.GetProperty("key").GetString());
        Assert.Equal("phone", content.RootElement.GetProperty("device_id").GetString());
    }

    [Fact]
    public void Content_as_a_string_holding_json_is_kept_as_is()
    {
        var msg = Json("{\"msg_type\":4,\"content\":\"{\\\"key\\\":\\\"KEEP_ALIVE\\\"}\"}");

        Assert.Equal("{\"key\":\"KEEP_ALIVE\"}", msg.Content);
    }

    [Fact]
    public void Unknown_fields_are_ignored()
    {
        Assert.Equal("1", Json("{\"from_user_id\":\"1\",\"extra\":{\"deep\":[1,2]},\"more\":true}").FromUserId);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"msg_type\":4")]
    [InlineData("[1,2]")]
    [InlineData("{\"seq\":\"abc\"}")]
    [InlineData("{\"seq\":-1}")]
    [InlineData("{\"from_user_id\":{\"a\":1}}")]
    [InlineData("{\"msg_type\":\"SHOUT\"}")]
    [InlineData("{\"msg_type\":4} trailing")]
    [InlineData("{\"content\":{\"unclosed\":1}")]
    public void Json_that_is_not_a_msg_is_a_frame_error(string json) =>
        Assert.Throws<FrameException>(() => Json(json));

    [Fact]
    public void Invalid_utf8_is_a_frame_error() =>
        Assert.Throws<FrameException>(() => MsgCodec.DecodeJson(Segments.Of(new byte[] { (byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)'}' })));

    [Fact]
    public void Bytes_that_are_not_protobuf_are_a_frame_error() =>
        Assert.Throws<FrameException>(() => MsgCodec.DecodeProtobuf(Segments.Of(new byte[] { 0x1A, 0x7F, 0x01 })));

    [Fact]
    public void Delimited_protobuf_is_what_ParseDelimitedFrom_reads()
    {
        var msg = new Msg { Id = "1", FromUserId = "2", Content = new string('y', 500), ConversationSeq = 3, MsgType = Msg.Types.MsgType.Image };
        var buffer = new ArrayBufferWriter<byte>();

        MsgCodec.WriteDelimited(msg, buffer);
        MsgCodec.WriteDelimited(msg, buffer);

        using var stream = new MemoryStream(buffer.WrittenSpan.ToArray());
        Assert.Equal(msg, Msg.Parser.ParseDelimitedFrom(stream));
        Assert.Equal(msg, Msg.Parser.ParseDelimitedFrom(stream));
        Assert.Equal(stream.Length, stream.Position);
    }

    [Fact]
    public void A_bus_message_becomes_a_wire_message_with_string_ids_and_zeroes_left_out()
    {
        var wire = new WireMessage
        {
            Id = 384510486852403200,
            FromUserId = 11,
            ToUserId = 0,
            ChatType = 1,
            MsgType = 2,
            Status = 1,
            Seq = 4,
            Content = "hi",
            ClientMsgId = "c-9",
            ConversationId = "g_5",
            ConversationSeq = 77,
            SentAt = 1795741643000,
        };

        var msg = MsgCodec.FromWire(wire);

        Assert.Equal("384510486852403200", msg.Id);
        Assert.Equal("11", msg.FromUserId);
        Assert.Equal("", msg.ToUserId);
        Assert.Equal(Msg.Types.ChatType.Group, msg.ChatType);
        Assert.Equal(Msg.Types.MsgType.Voice, msg.MsgType);
        Assert.Equal(Msg.Types.MsgStatus.Sent, msg.Status);
        Assert.Equal((4U, "hi", "c-9", "g_5", 77UL, 1795741643000L, ""),
            (msg.Seq, msg.Content, msg.ClientMsgId, msg.ConversationId, msg.ConversationSeq, msg.SentAt, msg.Error));
        using var doc = JsonDocument.Parse(MsgCodec.ToJson(msg));
        Assert.False(doc.RootElement.TryGetProperty("to_user_id", out _));
        Assert.False(doc.RootElement.TryGetProperty("error", out _));
    }

    [Fact]
    public void The_heartbeat_reply_is_exactly_easyims()
    {
        var reply = ServerFrames.HeartbeatReply(42);

        Assert.Equal(Msg.Types.MsgType.Event, reply.MsgType);
        Assert.Equal("42", reply.ToUserId);
        Assert.Equal("{\"code\":200,\"msg\":\"SUCCESS\",\"data\":{\"key\":\"KEEP_ALIVE\"}}", reply.Content);
    }

    [Fact]
    public void A_notify_carries_code_and_msg_and_keeps_text_readable()
    {
        var notify = ServerFrames.Notify(0, 401, "令牌无效 \"quoted\"");

        Assert.Equal(Msg.Types.MsgType.Notify, notify.MsgType);
        Assert.Equal("", notify.ToUserId);
        Assert.Equal("{\"code\":401,\"msg\":\"令牌无效 \\\"quoted\\\"\"}", notify.Content);
    }

    [Theory]
    [InlineData("")]
    [InlineData("KEEP_ALIVE")]
    [InlineData("[\"key\"]")]
    [InlineData("{\"key\":5}")]
    [InlineData("{\"nokey\":\"x\"}")]
    public void Event_content_without_a_string_key_is_a_frame_error(string content) =>
        Assert.Throws<FrameException>(() => EventContent.Parse(content).Dispose());

    [Fact]
    public void Event_fields_of_the_wrong_type_are_frame_errors()
    {
        using var content = EventContent.Parse("{\"key\":\"ARRIVED\",\"conversation_id\":5,\"seq\":\"x\",\"id\":-3}");

        Assert.Throws<FrameException>(() => content.OptionalString("conversation_id", 64));
        Assert.Throws<FrameException>(() => content.OptionalUInt64("seq"));
        Assert.Throws<FrameException>(() => content.OptionalId("id"));
    }

    [Fact]
    public void Event_numbers_are_read_as_numbers_or_numeric_strings()
    {
        using var content = EventContent.Parse("{\"key\":\"READ\",\"seq\":12,\"id\":\"384510486852403200\",\"other\":\"7\"}");

        Assert.Equal(12UL, content.OptionalUInt64("seq"));
        Assert.Equal(384510486852403200L, content.OptionalId("id"));
        Assert.Equal(7UL, content.OptionalUInt64("other"));
        Assert.Null(content.OptionalUInt64("missing"));
    }
}
