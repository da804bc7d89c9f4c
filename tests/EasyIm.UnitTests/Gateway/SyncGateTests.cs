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

    private SyncGate Gate(TimeSpan? syncTimeout = null, int maxHeld = 100, TimeSpan? gapTimeout = null, long maxHeldBytes = long.MaxValue) =>
        new(m =>
        {
            lock (_written)
            {
                _written.Add(m.Msg);
                if (_written.Count == 6)
                    _sixth.TrySetResult();
            }
            return true;
        }, syncTimeout ?? TimeSpan.FromMinutes(1), maxHeld, gapTimeout ?? TimeSpan.FromMinutes(1), maxHeldBytes);

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
        Assert.Equal(["TYPING", "m1", "m2", "SYNC", "m2", "m3", "m7", "m4"], Written());
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

    [Fact]
    public void Past_the_byte_bound_everything_held_is_written_in_order_however_few_the_frames()
    {
        // Three frames of about 10 KB hold more than 25 KB: large messages cannot pile up behind a sync.
        using var gate = Gate(maxHeld: 100, maxHeldBytes: 25_000);
        gate.Begin();

        foreach (var seq in new ulong[] { 1, 2, 3 })
            Deliver(gate, (Chat("s_1_2", seq).Item1, new Msg { Id = $"b-{seq}", MsgType = Msg.Types.MsgType.Text, ConversationId = "s_1_2", ConversationSeq = seq, Content = new string('x', 10_000) }));

        Assert.Equal(3, Written().Count);
        Assert.False(gate.Holding);
    }

    [Fact]
    public void Past_the_byte_bound_what_waits_for_a_gap_is_written_in_order()
    {
        using var gate = Gate(maxHeld: 100, maxHeldBytes: 25_000);
        Deliver(gate, SyncDone(("s_1_2", 0)));

        foreach (var seq in new ulong[] { 2, 3, 4 })
            Deliver(gate, (Chat("s_1_2", seq).Item1, new Msg { Id = $"b-{seq}", MsgType = Msg.Types.MsgType.Text, ConversationId = "s_1_2", ConversationSeq = seq, Content = new string('x', 10_000) }));

        Assert.Equal(4, Written().Count);
        Assert.Equal(0, gate.Waiting);
    }

    private static (UserPush, Msg) FillDone(params (string Conversation, ulong Last)[] through) =>
        (new UserPush(1, new WireMessage(), OnlyConnectionId: "c", Sync: true, SyncedThrough: through.ToDictionary(t => t.Conversation, t => t.Last), GapFill: true),
         new Msg { MsgType = Msg.Types.MsgType.Event, Content = """{"code":200,"msg":"SUCCESS","data":{"key":"SYNC","done":true}}""" });

    [Fact]
    public async Task A_gap_that_stays_open_is_asked_for_again_and_the_fill_keeps_the_conversation_in_order()
    {
        using var gate = Gate(gapTimeout: TimeSpan.FromMilliseconds(50));
        var asked = new TaskCompletionSource<IReadOnlyDictionary<string, ulong>>(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.FillGaps = after => asked.TrySetResult(after);
        gate.Begin();
        Deliver(gate, SyncDone(("s_1_2", 3), ("g_9", 0)));

        Deliver(gate, Chat("s_1_2", 5));              // m4 was stored, but its push was lost
        Deliver(gate, Chat("s_1_2", 6));
        Deliver(gate, Chat("g_9", 1));                // another conversation is not held up
        var after = await asked.Task.WaitAsync(Wait);

        Assert.Equal(new Dictionary<string, ulong> { ["s_1_2"] = 3 }, after);
        Assert.Equal(2, gate.Waiting);
        // The fill: the conversation from m4 to what is stored now (m7 was stored meanwhile), then its closing event.
        Deliver(gate, Chat("s_1_2", 4, sync: true));
        Deliver(gate, Chat("s_1_2", 5, sync: true));
        Deliver(gate, Chat("s_1_2", 6, sync: true));
        Deliver(gate, Chat("s_1_2", 7, sync: true));
        Deliver(gate, FillDone(("s_1_2", 7)));
        Deliver(gate, Chat("s_1_2", 7));              // m7's own push, late: a duplicate
        Deliver(gate, Chat("s_1_2", 8));

        // No SYNC event for the fill; what waited comes after the fill's copies, and the client drops those by id.
        Assert.Equal(["SYNC", "m1", "m4", "m5", "m6", "m7", "m5", "m6", "m7", "m8"], Written());
        Assert.Equal(0, gate.Waiting);
        var seen = new HashSet<string>();
        var order = Written().Skip(2).Where(seen.Add).ToList();
        Assert.Equal(["m4", "m5", "m6", "m7", "m8"], order);
    }

    [Fact]
    public async Task A_gap_no_fill_closes_is_asked_for_a_bounded_number_of_times_then_given_up_on_in_order()
    {
        using var gate = Gate(gapTimeout: TimeSpan.FromMilliseconds(20));
        var asks = 0;
        gate.FillGaps = _ => Interlocked.Increment(ref asks);
        gate.Begin();
        Deliver(gate, SyncDone(("s_1_2", 0)));

        for (ulong seq = 2; seq <= 6; seq++)
            Deliver(gate, Chat("s_1_2", seq));        // m1 never comes: messaging is away
        await _sixth.Task.WaitAsync(Wait);

        Assert.Equal(["SYNC", "m2", "m3", "m4", "m5", "m6"], Written());
        Assert.Equal(SyncGate.FillAttempts, Volatile.Read(ref asks));
        Assert.Equal(0, gate.Waiting);
    }

    [Fact]
    public async Task The_late_push_itself_closes_the_gap_and_a_new_gap_gets_its_own_asks()
    {
        using var gate = Gate(gapTimeout: TimeSpan.FromMilliseconds(20));
        var asks = new List<IReadOnlyDictionary<string, ulong>>();
        var second = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.FillGaps = after =>
        {
            lock (asks)
            {
                asks.Add(after);
                if (after.ContainsKey("g_9"))
                    second.TrySetResult();
            }
        };
        gate.Begin();
        Deliver(gate, SyncDone(("s_1_2", 0), ("g_9", 0)));

        Deliver(gate, Chat("s_1_2", 2));
        Deliver(gate, Chat("s_1_2", 1));              // in time: no ask
        Deliver(gate, Chat("g_9", 2));
        await second.Task.WaitAsync(Wait);

        lock (asks)
            Assert.Equal(new Dictionary<string, ulong> { ["g_9"] = 0 }, asks[0]);
        Assert.Equal(["SYNC", "m1", "m2"], Written());
        Assert.Equal(1, gate.Waiting);
    }

    [Fact]
    public async Task A_fill_answer_that_leaves_a_conversation_out_releases_what_waits_there_in_order()
    {
        using var gate = Gate(gapTimeout: TimeSpan.FromMilliseconds(50));
        var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.FillGaps = _ => asked.TrySetResult();
        gate.Begin();
        Deliver(gate, SyncDone(("s_9_1", 1)));

        Deliver(gate, Chat("s_9_1", 4));              // pushes that skipped this connection left 2 and 3 out
        Deliver(gate, Chat("s_9_1", 3));
        await asked.Task.WaitAsync(Wait);
        Deliver(gate, FillDone());                    // messaging has nothing of this user there

        Assert.Equal(["SYNC", "m3", "m4"], Written());
        Assert.Equal(0, gate.Waiting);
        Deliver(gate, Chat("s_9_1", 5));
        Assert.Equal("m5", Written()[^1]);
    }

    [Fact]
    public void A_conversation_the_sync_did_not_cover_starts_at_its_first_live_message_without_a_wait()
    {
        using var gate = Gate();
        var asks = 0;
        gate.FillGaps = _ => asks++;
        gate.Begin();
        Deliver(gate, SyncDone(("s_1_2", 3)));

        Deliver(gate, Chat("g_7", 501));              // a group joined after the connect: its history is not a gap
        Deliver(gate, Chat("g_7", 502));
        Deliver(gate, Chat("g_7", 504));              // ...but a gap inside what this connection saw still waits

        Assert.Equal(["SYNC", "m501", "m502"], Written());
        Assert.Equal(1, gate.Waiting);
        Assert.Equal(0, asks);
    }
    // Positions of the user's update stream (issue 14): a gap among them is found whatever the conversation.

    private static (UserPush, Msg) SyncDoneAt(long head, bool gapFill = false, params (string Conversation, ulong Last)[] through) =>
        (new UserPush(1, new WireMessage { Event = new SyncDoneEvent(Head: head) }, OnlyConnectionId: "c", Sync: true,
            SyncedThrough: through.ToDictionary(t => t.Conversation, t => t.Last), GapFill: gapFill),
         new Msg { MsgType = Msg.Types.MsgType.Event, Content = """{"code":200,"msg":"SUCCESS","data":{"key":"SYNC","done":true}}""" });

    private static void DeliverAt(SyncGate gate, (UserPush Push, Msg Frame) item, long position) =>
        gate.Deliver(item.Push, new OutboundFrame(item.Frame), position);

    private static (UserPush, Msg) Invite(long position) =>
        (new UserPush(1, new WireMessage { Event = new FriendInviteEvent(7, "hi") { Position = position } }),
         new Msg { MsgType = Msg.Types.MsgType.Event, Content = """{"code":200,"msg":"SUCCESS","data":{"key":"FRIEND_INVITE"}}""" });

    [Fact]
    public async Task A_lost_message_in_a_conversation_nothing_else_follows_is_found_by_any_later_position_and_asked_for_exactly()
    {
        using var gate = Gate(gapTimeout: TimeSpan.FromMilliseconds(50));
        var asked = new TaskCompletionSource<(long, long)>(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.FillPositions = (after, upTo) => asked.TrySetResult((after, upTo));
        gate.FillGaps = _ => throw new InvalidOperationException("no conversation has a gap of its own");
        gate.Begin();
        Deliver(gate, SyncDoneAt(10, false, ("s_1_2", 3), ("s_1_3", 0)));

        DeliverAt(gate, Chat("s_1_2", 4), 11);
        // Position 12, the first message of s_1_3, was stored but its push was lost: nothing else comes in s_1_3.
        DeliverAt(gate, Invite(13), 13);
        var (after, upTo) = await asked.Task.WaitAsync(Wait);

        Assert.Equal((11L, 12L), (after, upTo));
        // The fill: the conversation of the message at 12, then its closing push with the range's end as its head.
        Deliver(gate, Chat("s_1_3", 1, sync: true));
        Deliver(gate, SyncDoneAt(12, gapFill: true, ("s_1_3", 1)));
        DeliverAt(gate, Chat("s_1_3", 2), 14);

        Assert.Equal(["SYNC", "m4", "FRIEND_INVITE", "m1", "m2"], Written());
        Assert.Equal(15, gate.NextPosition);
        Assert.False(gate.PositionGapOpen);
    }

    [Fact]
    public void Positions_that_come_out_of_order_close_their_own_gap_and_ask_for_nothing()
    {
        using var gate = Gate(gapTimeout: TimeSpan.FromMinutes(1));
        gate.FillPositions = (_, _) => throw new InvalidOperationException("nothing is missing");
        gate.Begin();
        Deliver(gate, SyncDoneAt(10, false, ("s_1_2", 0)));

        DeliverAt(gate, Invite(11), 11);
        DeliverAt(gate, Invite(13), 13); // two messaging replicas, or an event racing a message
        Assert.True(gate.PositionGapOpen);
        DeliverAt(gate, Chat("s_1_2", 1), 12);
        DeliverAt(gate, Invite(9), 9);   // below where the sync left the connection: already covered

        Assert.Equal(14, gate.NextPosition);
        Assert.False(gate.PositionGapOpen);
    }

    [Fact]
    public async Task A_connection_whose_sync_had_no_position_starts_at_its_first_update_and_still_finds_a_later_gap()
    {
        using var gate = Gate(gapTimeout: TimeSpan.FromMilliseconds(20));
        var asked = new TaskCompletionSource<(long, long)>(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.FillPositions = (after, upTo) => asked.TrySetResult((after, upTo));
        gate.Begin();
        DeliverAt(gate, Invite(5), 5);   // live during the sync (an old client's: no position, so no head)
        DeliverAt(gate, Invite(7), 7);
        Deliver(gate, SyncDone(("s_1_2", 0)));

        Assert.Equal((5L, 6L), await asked.Task.WaitAsync(Wait));
        Assert.Equal(6, gate.NextPosition);
    }

    [Fact]
    public async Task A_position_gap_no_fill_closes_is_asked_for_a_bounded_number_of_times_then_given_up_on()
    {
        using var gate = Gate(gapTimeout: TimeSpan.FromMilliseconds(10));
        var asks = 0;
        gate.FillPositions = (_, _) => Interlocked.Increment(ref asks);
        gate.Begin();
        Deliver(gate, SyncDoneAt(10, false, ("s_1_2", 0)));
        DeliverAt(gate, Invite(12), 12); // 11 never comes: messaging is away

        var deadline = DateTime.UtcNow + Wait;
        while (gate.PositionGapOpen && DateTime.UtcNow < deadline)
            await Task.Delay(10);

        Assert.False(gate.PositionGapOpen);
        Assert.Equal(SyncGate.FillAttempts, Volatile.Read(ref asks));
        Assert.Equal(13, gate.NextPosition);
    }
}
