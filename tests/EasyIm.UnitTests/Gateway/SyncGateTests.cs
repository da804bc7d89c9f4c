using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Connections;

namespace EasyIm.UnitTests.Gateway;

public class SyncGateTests
{
    private readonly List<Msg> _written = [];

    private SyncGate Gate(TimeSpan? timeout = null, int maxHeld = 100) =>
        new(m => { lock (_written) _written.Add(m); return true; }, timeout ?? TimeSpan.FromMinutes(1), maxHeld);

    private static (UserPush, Msg) Chat(string conversation, ulong seq, bool sync = false)
    {
        var frame = new Msg { Id = $"{conversation}-{seq}", MsgType = Msg.Types.MsgType.Text, ConversationId = conversation, ConversationSeq = seq, Content = $"m{seq}" };
        return (new UserPush(1, new WireMessage(), OnlyConnectionId: sync ? "c" : null, Sync: sync), frame);
    }

    private static (UserPush, Msg) SyncDone() =>
        (new UserPush(1, new WireMessage(), OnlyConnectionId: "c", Sync: true), new Msg { MsgType = Msg.Types.MsgType.Event, Content = """{"code":200,"msg":"SUCCESS","data":{"key":"SYNC","done":true}}""" });

    private static (UserPush, Msg) Typing() =>
        (new UserPush(1, new WireMessage()), new Msg { MsgType = Msg.Types.MsgType.Event, Content = """{"code":200,"msg":"SUCCESS","data":{"key":"TYPING"}}""" });

    private void Deliver(SyncGate gate, (UserPush Push, Msg Frame) item) => gate.Deliver(item.Push, item.Frame);

    [Fact]
    public void Before_a_handshake_everything_passes_straight_through()
    {
        using var gate = Gate();

        Deliver(gate, Chat("s_1_2", 5));

        Assert.Equal(["m5"], _written.Select(m => m.Content));
    }

    [Fact]
    public void Live_messages_during_the_sync_wait_for_its_end_and_what_the_sync_carried_is_not_written_twice()
    {
        using var gate = Gate();
        gate.Begin();

        Deliver(gate, Chat("s_1_2", 3));              // live, stored after the sync's read
        Deliver(gate, Chat("s_1_2", 2));              // a replay of what the sync carries
        Deliver(gate, Typing());                      // not chat: passes
        Deliver(gate, Chat("s_1_2", 1, sync: true));
        Deliver(gate, Chat("s_1_2", 2, sync: true));
        Deliver(gate, Chat("g_9", 7));                // another conversation, not in the sync
        Deliver(gate, SyncDone());
        Deliver(gate, Chat("s_1_2", 4));              // after the sync: straight through

        Assert.Equal(["TYPING", "m1", "m2", "SYNC", "m3", "m7", "m4"], _written.Select(Label));
        Assert.False(gate.Holding);
    }

    [Fact]
    public async Task Without_a_sync_event_the_held_messages_go_out_after_the_timeout()
    {
        var released = new TaskCompletionSource();
        using var gate = new SyncGate(m => { lock (_written) _written.Add(m); released.TrySetResult(); return true; }, TimeSpan.FromMilliseconds(50), 100);
        gate.Begin();

        gate.Deliver(Chat("s_1_2", 1).Item1, Chat("s_1_2", 1).Item2);

        await released.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["m1"], _written.Select(m => m.Content));
        Assert.False(gate.Holding);
    }

    [Fact]
    public void Past_the_bound_everything_held_is_written_in_order()
    {
        using var gate = Gate(maxHeld: 3);
        gate.Begin();

        for (ulong seq = 1; seq <= 5; seq++)
            Deliver(gate, Chat("s_1_2", seq));

        Assert.Equal(["m1", "m2", "m3", "m4", "m5"], _written.Select(m => m.Content));
        Assert.False(gate.Holding);
    }

    private static string Label(Msg m) => m.MsgType == Msg.Types.MsgType.Event
        ? System.Text.Json.JsonDocument.Parse(m.Content).RootElement.GetProperty("data").GetProperty("key").GetString()!
        : m.Content;
}
