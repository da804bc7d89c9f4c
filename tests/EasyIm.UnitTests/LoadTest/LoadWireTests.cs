using EasyIm.Contracts.Gateway;
using System.Buffers;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;
using EasyIm.LoadTest.Wire;
using Google.Protobuf;
using WireFormat = EasyIm.Gateway.Wire.WireFormat;

namespace EasyIm.UnitTests.LoadTest;

/// <summary>The load tool writes and reads frames by hand; the gateway's own codec must agree with it.</summary>
public sealed class LoadWireTests
{
    public static TheoryData<bool> Formats => new() { true, false };

    private static Msg GatewayDecode(ReadOnlySpan<byte> frame, bool json) =>
        MsgCodec.Decode(new ReadOnlySequence<byte>(frame.ToArray()), json ? WireFormat.Json : WireFormat.Protobuf);

    [Theory]
    [MemberData(nameof(Formats))]
    public void The_gateway_reads_the_load_tools_chat_frame(bool json)
    {
        var buffer = new byte[512];
        var length = FrameEncoder.Chat(buffer, json, 384516159929581568, 1, "ab12cd34:7:123456789"u8, "ab12cd34-7"u8, 8);

        var msg = GatewayDecode(buffer.AsSpan(0, length), json);

        Assert.Equal(("384516159929581568", Msg.Types.ChatType.Group, Msg.Types.MsgType.Text), (msg.ToUserId, msg.ChatType, msg.MsgType));
        Assert.Equal(("ab12cd34:7:123456789", "ab12cd34-7", 8u), (msg.Content, msg.ClientMsgId, msg.Seq));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void The_gateway_reads_the_load_tools_heartbeat_and_receipt(bool json)
    {
        var buffer = new byte[2048];
        var length = FrameEncoder.Heartbeat(buffer, json, 42, "eyJ.token-_x", "d3");
        var heartbeat = GatewayDecode(buffer.AsSpan(0, length), json);
        // Field 3 first: a protobuf heartbeat must not look like JSON or HTTP to the gateway's sniffer.
        Assert.Equal(json ? (byte)'{' : (byte)0x1A, buffer[0]);
        length = FrameEncoder.Arrived(buffer, json, "s_1_2"u8, 99);
        var receipt = GatewayDecode(buffer.AsSpan(0, length), json);

        Assert.Equal((Msg.Types.MsgType.Event, "42", "eyJ.token-_x"), (heartbeat.MsgType, heartbeat.FromUserId, heartbeat.AccessToken));
        using (var content = EventContent.Parse(heartbeat.Content))
            Assert.Equal(("KEEP_ALIVE", "d3"), (content.Key(), content.OptionalString("device_id", 128)));
        using (var content = EventContent.Parse(receipt.Content))
            Assert.Equal(("ARRIVED", "s_1_2", 99UL), (content.Key(), content.OptionalString("conversation_id", 128), content.OptionalUInt64("seq")));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void The_gateway_reads_hostile_text_as_the_load_tool_meant_it(bool json)
    {
        const string content = "a\u0000b \"quoted\" back\\slash \u0001\t\n é 中 😀";
        var buffer = new byte[FrameEncoder.MaxChatTextLength(content.Length) + 64];
        var length = FrameEncoder.ChatText(buffer, json, 7, 0, content, "bad-1"u8, 3);

        var msg = GatewayDecode(buffer.AsSpan(0, length), json);

        Assert.Equal((content, "bad-1", 3u, "7"), (msg.Content, msg.ClientMsgId, msg.Seq, msg.ToUserId));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void The_gateway_reads_the_load_tools_sync_and_read_receipt(bool json)
    {
        var buffer = new byte[512];
        var length = FrameEncoder.Sync(buffer, json, "s_1_2"u8, 0);
        var sync = GatewayDecode(buffer.AsSpan(0, length), json);
        length = FrameEncoder.Receipt(buffer, json, read: true, "s_1_2"u8, 17);
        var read = GatewayDecode(buffer.AsSpan(0, length), json);

        Assert.Equal(Msg.Types.MsgType.Event, sync.MsgType);
        using (var content = EventContent.Parse(sync.Content))
        {
            Assert.Equal("SYNC", content.Key());
            Assert.Equal(0UL, content.RootElement.GetProperty("conversations").GetProperty("s_1_2").GetUInt64());
        }
        using (var content = EventContent.Parse(read.Content))
            Assert.Equal(("READ", "s_1_2", 17UL), (content.Key(), content.OptionalString("conversation_id", 128), content.OptionalUInt64("seq")));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void The_load_tool_tells_an_ack_by_its_echoed_seq(bool json)
    {
        var ack = new Msg { Id = "5", Seq = 42, FromUserId = "7", Status = Msg.Types.MsgStatus.Sent, ClientMsgId = "x-1" };
        var delivery = new Msg { Id = "5", FromUserId = "7", Status = Msg.Types.MsgStatus.Sent, ClientMsgId = "x-1" };

        var a = new Incoming();
        Assert.True(FrameDecoder.TryDecode(json ? MsgCodec.ToJsonBytes(ack) : ack.ToByteArray(), json, ref a));
        var d = new Incoming();
        Assert.True(FrameDecoder.TryDecode(json ? MsgCodec.ToJsonBytes(delivery) : delivery.ToByteArray(), json, ref d));

        Assert.Equal((42u, 0u), (a.Seq, d.Seq));
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void The_load_tool_reads_what_the_gateway_writes(bool json)
    {
        var stored = new Msg
        {
            Id = "384516159929581568",
            FromUserId = "7",
            ToUserId = "9",
            ChatType = Msg.Types.ChatType.Single,
            MsgType = Msg.Types.MsgType.Text,
            Status = Msg.Types.MsgStatus.Sent,
            Content = "run:1:2",
            ClientMsgId = "run-1",
            ConversationId = "s_7_9",
            ConversationSeq = 18446744073709551000,
            SentAt = 1795742950029,
        };
        var bytes = json ? MsgCodec.ToJsonBytes(stored) : stored.ToByteArray();

        var msg = new Incoming();
        Assert.True(FrameDecoder.TryDecode(bytes, json, ref msg));

        Assert.Equal((384516159929581568L, 7L, 9L), (msg.Id, msg.FromUserId, msg.ToUserId));
        Assert.Equal((0, 0, 1), (msg.ChatType, msg.MsgType, msg.Status));
        Assert.True(msg.IsChat);
        Assert.Equal(18446744073709551000UL, msg.ConversationSeq);
        Assert.Equal("run:1:2"u8.ToArray(), msg.Content.ToArray());
        Assert.Equal("run-1"u8.ToArray(), msg.ClientMsgId.ToArray());
        Assert.Equal("s_7_9"u8.ToArray(), msg.ConversationId.ToArray());
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public void The_load_tool_reads_the_gateways_events(bool json)
    {
        var sync = ServerFrames.Event(5, EventContent.Success(EventKeys.Sync, w => w.WriteBoolean("done", true)));
        var refused = ServerFrames.Notify(0, 401, "bad \"token\"");

        var msg = new Incoming();
        Assert.True(FrameDecoder.TryDecode(json ? MsgCodec.ToJsonBytes(sync) : sync.ToByteArray(), json, ref msg));
        Assert.Equal(Incoming.Event, msg.MsgType);
        Assert.Equal(new ServerEvent(200, "SUCCESS", "SYNC", true), ServerEvent.Read(msg.Content));

        msg = new Incoming();
        Assert.True(FrameDecoder.TryDecode(json ? MsgCodec.ToJsonBytes(refused) : refused.ToByteArray(), json, ref msg));
        Assert.Equal(Incoming.Notify, msg.MsgType);
        Assert.Equal(new ServerEvent(401, "bad \"token\"", null, false), ServerEvent.Read(msg.Content));
    }
}
