using System.Buffers;
using System.Text;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;
using Google.Protobuf;

namespace EasyIm.UnitTests.Gateway;

/// <summary>
/// The gateway's own JSON codec against Google.Protobuf's JSON formatter and parser, the reference for
/// protobuf's JSON mapping: each reads what the other writes, for messages with every field set or not.
/// </summary>
public sealed class MsgJsonTests
{
    private static readonly JsonFormatter Reference = new(JsonFormatter.Settings.Default
        .WithFormatDefaultValues(false).WithFormatEnumsAsIntegers(true).WithPreserveProtoFieldNames(true));

    private static readonly JsonParser ReferenceParser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    private static readonly string[] Texts = ["", "a", "你好 👋", "quote \" backslash \\ slash /", "line\nbreak\ttab\r", "\u0001\u001f control", "<html>&amp;</html>", "\u2028\u2029"];

    public static IEnumerable<object[]> Messages()
    {
        var random = new Random(42);
        T Pick<T>(T[] items) => items[random.Next(items.Length)];
        for (var i = 0; i < 50; i++)
        {
            yield return [new Msg
            {
                Id = random.Next(3) == 0 ? "" : random.NextInt64(1, long.MaxValue).ToString(),
                Seq = random.Next(3) == 0 ? 0 : (uint)random.NextInt64(0, uint.MaxValue + 1L),
                FromUserId = random.Next(2) == 0 ? "" : random.NextInt64(1, long.MaxValue).ToString(),
                ToUserId = Pick(Texts),
                ChatType = (Msg.Types.ChatType)random.Next(0, 3),
                MsgType = (Msg.Types.MsgType)random.Next(0, 7),
                Status = (Msg.Types.MsgStatus)random.Next(0, 4),
                Content = Pick(Texts) + Pick(Texts),
                AccessToken = Pick(Texts),
                ClientMsgId = Pick(Texts),
                ConversationId = Pick(Texts),
                ConversationSeq = random.Next(3) == 0 ? 0 : (ulong)random.NextInt64() * 2 + (ulong)random.Next(2),
                SentAt = random.Next(3) == 0 ? 0 : random.NextInt64(long.MinValue, long.MaxValue),
                Error = Pick(Texts),
            }];
        }
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void What_it_writes_protobufs_parser_reads_as_the_same_message(Msg msg) =>
        Assert.Equal(msg, ReferenceParser.Parse<Msg>(Encoding.UTF8.GetString(MsgJson.ToBytes(msg))));

    [Theory]
    [MemberData(nameof(Messages))]
    public void What_protobufs_formatter_writes_it_reads_as_the_same_message(Msg msg) =>
        Assert.Equal(msg, MsgJson.Read(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(Reference.Format(msg)))));

    [Theory]
    [MemberData(nameof(Messages))]
    public void A_frame_split_into_small_segments_reads_the_same(Msg msg) =>
        Assert.Equal(msg, MsgJson.Read(Segments.Chunked(MsgJson.ToBytes(msg), 3)));

    [Fact]
    public void Camel_case_names_and_escaped_names_are_read_as_protobuf_reads_them()
    {
        var msg = MsgJson.Read(new ReadOnlySequence<byte>("""{"fromUserId":"7","to\u005fuser_id":"8","clientMsgId":"c","conversationSeq":"9","sentAt":10}"""u8.ToArray()));

        Assert.Equal(("7", "8", "c", 9UL, 10L), (msg.FromUserId, msg.ToUserId, msg.ClientMsgId, msg.ConversationSeq, msg.SentAt));
    }

    [Fact]
    public void Null_is_the_default_and_an_embedded_content_keeps_the_clients_text()
    {
        var msg = MsgJson.Read(new ReadOnlySequence<byte>("""{"id":null,"seq":null,"msg_type":4,"content":{ "key": "SYNC", "conversations": {"s_1_2": 3} }}"""u8.ToArray()));

        Assert.Equal(("", 0U), (msg.Id, msg.Seq));
        Assert.Equal("""{ "key": "SYNC", "conversations": {"s_1_2": 3} }""", msg.Content);
    }

    [Theory]
    [InlineData("""{"seq":1.5}""")]
    [InlineData("""{"seq":4294967296}""")]
    [InlineData("""{"conversation_seq":"-1"}""")]
    [InlineData("""{"sent_at":"9223372036854775808"}""")]
    [InlineData("""{"chat_type":"group"}""")]
    [InlineData("""{"content":5}""")]
    [InlineData("""{"id":5}""")]
    [InlineData("""{"a":[1,{"b":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}]}""")]
    public void Out_of_range_numbers_unknown_names_wrong_types_and_deep_nesting_are_frame_errors(string json) =>
        Assert.Throws<FrameException>(() => MsgJson.Read(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json))));

    [Theory]
    [InlineData("{\"content\":\"x\\ud800y\"}")]
    [InlineData("{\"client_msg_id\":\"\\udfff\"}")]
    [InlineData("{\"to_user_id\":\"\\ud83d\"}")]
    public void A_frame_whose_escapes_spell_an_unpaired_surrogate_is_a_bad_frame(string json)
    {
        var error = Assert.Throws<FrameException>(() => MsgJson.Read(new System.Buffers.ReadOnlySequence<byte>(System.Text.Encoding.UTF8.GetBytes(json))));
        Assert.Contains("surrogate", error.Message);
    }
}
