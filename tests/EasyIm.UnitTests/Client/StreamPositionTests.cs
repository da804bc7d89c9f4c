using EasyIm.Client;
using EasyIm.Contracts.Wire;

namespace EasyIm.UnitTests.Client;

/// <summary>The C# client's place in the update stream, from the frames as the server writes them.</summary>
public sealed class StreamPositionTests
{
    private static Msg Message(ulong position) => new() { MsgType = Msg.Types.MsgType.Text, Content = "hi", Position = position };

    private static Msg Event(string key, ulong position, string extra = "") => new()
    {
        MsgType = Msg.Types.MsgType.Event,
        Content = $$$"""{"code":200,"msg":"SUCCESS","data":{"key":"{{{key}}}"{{{extra}}},"position":{{{position}}}}}""",
    };

    private static Msg SyncDone(ulong head) => new()
    {
        MsgType = Msg.Types.MsgType.Event,
        Content = $$$"""{"code":200,"msg":"SUCCESS","data":{"key":"SYNC","done":true,"head":{{{head}}}}}""",
    };

    [Fact]
    public void Messages_events_and_receipts_move_it_on_in_order_and_a_later_one_waits_for_the_gap()
    {
        var stream = new StreamPosition(after: 10);

        stream.Note(Message(11));
        stream.Note(Event("READ", 13, ""","seq":4"""));
        Assert.Equal((11UL, true), (stream.Value, stream.GapOpen));
        Assert.Equal([13UL], stream.Ahead);
        stream.Note(Event("FRIEND_INVITE", 12));
        stream.Note(Message(9)); // a duplicate from before: nothing
        stream.Note(new Msg { MsgType = Msg.Types.MsgType.Event, Content = """{"code":200,"msg":"SUCCESS","data":{"key":"TYPING"}}""" });

        Assert.Equal((13UL, false), (stream.Value, stream.GapOpen));
    }

    [Fact]
    public void A_sync_done_head_covers_everything_before_it_and_what_waited_past_it()
    {
        var stream = new StreamPosition(after: 3);
        stream.Note(Message(8));
        stream.Note(Message(10));

        stream.Note(SyncDone(8));

        Assert.Equal((8UL, true), (stream.Value, stream.GapOpen));
        stream.Note(Message(9));
        Assert.Equal((10UL, false), (stream.Value, stream.GapOpen));
    }

    [Fact]
    public void Without_a_starting_position_the_first_update_says_where_it_starts_and_content_that_is_not_json_is_ignored()
    {
        var stream = new StreamPosition();
        stream.Note(new Msg { MsgType = Msg.Types.MsgType.Event, Content = "not json \"data\"" });
        stream.Note(Message(0));
        Assert.Equal(0UL, stream.Value);

        stream.Note(Message(41));
        stream.Note(Message(42));

        Assert.Equal((42UL, false), (stream.Value, stream.GapOpen));
    }
}
