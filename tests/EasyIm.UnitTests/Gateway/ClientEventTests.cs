using System.Text.Json;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;
using EasyIm.Hosting.Bus;
using MassTransit;
using MassTransit.Serialization;

namespace EasyIm.UnitTests.Gateway;

/// <summary>
/// Services send events typed; the gateway alone writes their client form. Each kind's content as clients have
/// always read it, the typed form across the bus, and the stored form of friends' update stream.
/// </summary>
public sealed class ClientEventTests
{
    public static TheoryData<string, ClientEvent, string> Events() => new()
    {
        { "invite", new FriendInviteEvent(7, "hi \"bob\", 小红 <3") { Position = 1 },
            """{"code":200,"msg":"SUCCESS","data":{"key":"FRIEND_INVITE","id":"7","msg":"hi \"bob\", 小红 <3","position":1}}""" },
        { "agree", new FriendAgreeEvent(7) { Position = 2 }, """{"code":200,"msg":"SUCCESS","data":{"key":"FRIEND_AGREE","id":"7","position":2}}""" },
        { "remove", new FriendRemoveEvent(9) { Position = 3 }, """{"code":200,"msg":"SUCCESS","data":{"key":"FRIEND_REMOVE","user_id":"9","position":3}}""" },
        { "join", new GroupJoinEvent(5, [1, 2], 3) { Position = 4 },
            """{"code":200,"msg":"SUCCESS","data":{"key":"GROUP_JOIN","group_id":"5","user_ids":["1","2"],"member_count":3,"position":4}}""" },
        { "leave", new GroupLeaveEvent(5, 2, 2) { Position = 5 },
            """{"code":200,"msg":"SUCCESS","data":{"key":"GROUP_LEAVE","group_id":"5","user_id":"2","member_count":2,"position":5}}""" },
        { "arrived", new ReceiptEvent("s_1_2", 4, 2, Read: false),
            """{"code":200,"msg":"SUCCESS","data":{"key":"ARRIVED","conversation_id":"s_1_2","seq":4,"user_id":"2"}}""" },
        { "read", new ReceiptEvent("g_5", 6, 1, Read: true),
            """{"code":200,"msg":"SUCCESS","data":{"key":"READ","conversation_id":"g_5","seq":6,"user_id":"1"}}""" },
        { "typing", new TypingEvent("s_1_2", 1), """{"code":200,"msg":"SUCCESS","data":{"key":"TYPING","conversation_id":"s_1_2","user_id":"1"}}""" },
        { "sync done", new SyncDoneEvent(), """{"code":200,"msg":"SUCCESS","data":{"key":"SYNC","done":true}}""" },
        { "sync done, retained", new SyncDoneEvent(new Dictionary<string, ulong> { ["s_1_2"] = 4, ["g_5"] = 9 }),
            """{"code":200,"msg":"SUCCESS","data":{"key":"SYNC","done":true,"retained_from_seq":{"g_5":9,"s_1_2":4}}}""" },
        { "an event without a position leaves it out", new FriendAgreeEvent(8), """{"code":200,"msg":"SUCCESS","data":{"key":"FRIEND_AGREE","id":"8"}}""" },
    };

    [Theory]
    [MemberData(nameof(Events))]
    public void The_gateway_writes_each_event_as_clients_read_it(string kind, ClientEvent e, string content)
    {
        var message = MsgCodec.FromWire(new WireMessage { MsgType = EventKeys.EventMsgType, Event = e });

        Assert.True(content == message.Content, $"{kind}: {message.Content}");
        Assert.Equal(Msg.Types.MsgType.Event, message.MsgType);
    }

    [Theory]
    [MemberData(nameof(Events))]
    public void An_event_crosses_the_bus_typed_and_is_written_the_same_on_the_other_side(string kind, ClientEvent e, string content)
    {
        var push = new PushToUsers([new UserPush(2, new WireMessage { MsgType = EventKeys.EventMsgType, FromUserId = 1, ToUserId = 2, Event = e })]);
        var json = JsonSerializer.Serialize(push, SystemTextJsonMessageSerializer.Options);
        Assert.DoesNotContain("\"code\"", json, StringComparison.Ordinal); // no client JSON on the bus
        var headers = new DictionarySendHeaders();
        headers.Set(MessageHeaders.MessageType, MessageUrn.ForTypeString<PushToUsers>());

        var context = DirectJsonSerializerFactory.Instance.CreateDeserializer().Deserialize(new StringMessageBody(json), headers);

        Assert.True(context.TryGetMessage<PushToUsers>(out var received), kind);
        Assert.IsType(e.GetType(), received!.Pushes[0].Message.Event);
        Assert.Equal(content, MsgCodec.FromWire(received.Pushes[0].Message).Content);
    }

    [Theory]
    [MemberData(nameof(Events))]
    public void The_stored_form_reads_back_as_the_same_event(string kind, ClientEvent e, string content)
    {
        var stored = ClientEventJson.Serialize(e);

        var read = ClientEventJson.TryDeserialize(stored);

        Assert.True(read?.GetType() == e.GetType(), $"{kind}: {stored}");
        Assert.Equal(content, EventContent.Render(read!));
    }

    [Fact]
    public void A_row_in_the_clients_form_is_not_taken_for_a_stored_event()
    {
        Assert.Null(ClientEventJson.TryDeserialize("""{"code":200,"msg":"SUCCESS","data":{"key":"FRIEND_AGREE","id":"7","position":2}}"""));
        Assert.Null(ClientEventJson.TryDeserialize(""));
    }
}
