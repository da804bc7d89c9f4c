using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Wire;

namespace EasyIm.UnitTests.Gateway;

public class SyncGateTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly List<Msg> _written = [];
    private readonly TaskCompletionSource _sixth = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SyncGate Gate(TimeSpan? syncTimeout = null, int maxHeld = 100, TimeSpan? gapTimeout = null) =>
        new(m =>
        {
            lock (_written)
            {
                _written.Add(m.Msg);
                if (_written.Count == 6)
                    _sixth.TrySetResult();
            }
            return true;
        }, syncTimeout ?? TimeSpan.FromMinutes(1), maxHeld, gapTimeout ?? TimeSpan.FromMinutes(1));

    private static (UserPush, Msg) Chat(string conversation, ulong seq, bool sync = false) =>
        (new UserPush(1, new WireMessage(), OnlyConnectionId: sync ? "c" : null, Sync: sync),
         new Msg { Id = $"{conversation}-{seq}", MsgType = Msg.Types.MsgType.Text, ConversationId = conversation, ConversationSeq = seq, Content = $"m{seq}" });

    private static (UserPush, Msg) SyncDone(params (string Conversation, ulong Last)[] through) =>
        (new UserPush(1, new WireMessage(), OnlyConnectionId: "c", Sync: true, SyncedThrough: through.ToDictionary(t => t.Conversation, t => t.Last)),
         new Msg { MsgType = Msg.Types.MsgType.Event, Content = """{"code":200,"msg":"SUCCESS","data":{"key":"SYNC","done":true}}""" });

    private static (UserPush, Msg) Typing() =>
        (new UserPush(1, new WireMessage()), new Msg { MsgType = Msg.Types.MsgType.Event, Content = """{"code":200,"msg":"SUCCESS","data":{"key":"TYPING"}}""" });

    private static void Deliver(SyncGate gate, (UserPush Push, Msg Frame) item) => gate.Deliver(item.Push, new OutboundFrame(item.Frame));

    private List<string> Written()
    {
        lock (_written)
            return _written.Select(m => m.MsgType == Msg.Types.MsgType.Event
                ? System.Text.Json.JsonDocument.Parse(m.Content).RootElement.GetProperty("data").GetProperty("key").GetString()!
                : m.Content).ToList();
    }

    [Fact]
    public void Live_messages_during_the_sync_wait_for_its_end_so_nothing_new_overtakes_the_sync()
    {
        using var gate = Gate();
        gate.Begin();

        Deliver(gate, Chat("s_1_2", 3));              // live, stored after the sync's read
        Deliver(gate, Chat("s_1_2", 2));              // a replay of what the sync carries
        Deliver(gate, Typing());                      // not chat: passes
        Deliver(gate, Chat("s_1_2", 1, sync: true));
        Deliver(gate, Chat("s_1_2", 2, sync: true));
        Deliver(gate, Chat("g_9", 7));                // a conversation the sync covered up to 6 without pages
        Deliver(gate, SyncDone(("s_1_2", 2), ("g_9", 6)));
        Deliver(gate, Chat("s_1_2", 4));              // after the sync: straight through

        // The replayed m2 comes after the sync's own m2: a duplicate the client drops by id.
        Assert.Equal(["TYPING", "m1", "m2", "SYNC", "m3", "m2", "m7", "m4"], Written());
        Assert.False(gate.Holding);
    }

    [Fact]
    public void A_message_that_overtook_an_earlier_one_waits_for_it()
    {
        using var gate = Gate();
        gate.Begin();
        Deliver(gate, SyncDone(("s_1_2", 10)));

        Deliver(gate, Chat("s_1_2", 12));
        Deliver(gate, Chat("g_5", 1));                // a new conversation starts at 1: no wait
        Deliver(gate, Chat("s_1_2", 11));
        Deliver(gate, Chat("s_1_2", 11));             // a duplicate, or the ack of a resend: written

        Assert.Equal(["SYNC", "m1", "m11", "m12", "m11"], Written());
        Assert.Equal(0, gate.Waiting);
    }

    [Fact]
    public async Task A_gap_that_stays_open_is_given_up_on_and_the_late_message_is_still_written()
    {
        using var gate = Gate(gapTimeout: TimeSpan.FromMilliseconds(50));
        gate.Begin();
        Deliver(gate, SyncDone(("s_1_2", 0)));

        Deliver(gate, Chat("s_1_2", 2));
        Deliver(gate, Chat("s_1_2", 3));
        Deliver(gate, Chat("s_1_2", 4));
        Deliver(gate, Chat("s_1_2", 5));
        Deliver(gate, Chat("s_1_2", 1));              // may come before or after the give-up
        await _sixth.Task.WaitAsync(Wait);

        Assert.Equal(["SYNC", "m1", "m2", "m3", "m4", "m5"], Written().Order());
        Assert.Equal(0, gate.Waiting);
    }

    [Fact]
    public async Task Without_a_sync_event_the_held_messages_go_out_after_the_timeout_in_order()
    {
        using var gate = Gate(syncTimeout: TimeSpan.FromMilliseconds(50), gapTimeout: TimeSpan.FromMilliseconds(50));
        gate.Begin();

        for (ulong seq = 1; seq <= 6; seq++)
            Deliver(gate, Chat("s_1_2", seq));
        await _sixth.Task.WaitAsync(Wait);

        Assert.Equal(["m1", "m2", "m3", "m4", "m5", "m6"], Written());
        Assert.False(gate.Holding);
    }

    [Fact]
    public void Past_the_bound_everything_held_is_written_in_order()
    {
        using var gate = Gate(maxHeld: 3);
        gate.Begin();

        for (ulong seq = 1; seq <= 5; seq++)
            Deliver(gate, Chat("s_1_2", seq));

        Assert.Equal(["m1", "m2", "m3", "m4", "m5"], Written());
        Assert.False(gate.Holding);
    }
}
