using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>
/// Chat messages in the user's update stream (issue 14), over real sockets: every message frame carries the recipient's
/// next position (JSON and protobuf), and a SYNC with <c>after</c> brings exactly what a device missed since its
/// position, whichever conversation it is in and whatever another device of the user already received.
/// </summary>
public abstract class MessageStreamScenarios(EasyImShape shape)
{
    private async Task<(TestUser A, TestUser B, long Group)> FriendsInAGroupAsync()
    {
        var a = await shape.NewUserAsync();
        var b = await shape.NewUserAsync();
        await shape.MakeFriendsAsync(a, b);
        var group = await shape.CreateGroupAsync(a, b);
        return (a, b, group);
    }

    /// <summary>
    /// Until messaging's projection has b in the group, a group message is not in b's stream: a sends one until b gets
    /// one (bounded), and returns a's ack and b's copy of it.
    /// </summary>
    private static async Task<(Msg Ack, Msg Got)> GroupReadyAsync(EasyImClient from, EasyImClient to, long group)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var id = $"warm-{attempt}";
            await from.SendAsync(Frames.Chat(group, "warm", id, chatType: Msg.Types.ChatType.Group));
            var ack = await from.AckAsync(id);
            if (await to.TryWaitForAsync(m => IsChat(m, id), TimeSpan.FromSeconds(3)) is { } got)
                return (ack, got);
        }
        throw new TimeoutException("the group's messages never reached its member");
    }

    /// <summary>The frames matching <paramref name="match"/> a sync writes, until its SYNC done (returned apart).</summary>
    private static async Task<(List<Msg> Frames, Msg Done)> UntilSyncDoneAsync(EasyImClient client, Func<Msg, bool> match)
    {
        var frames = new List<Msg>();
        Msg frame;
        while (!IsSyncDone(frame = await client.WaitForAsync(m => match(m) || IsSyncDone(m), Wait)))
            frames.Add(frame);
        return (frames, frame);
    }

    private static bool IsSyncDone(Msg m) => Frames.IsEvent(m, "SYNC") && Data(m).TryGetProperty("done", out _);

    [SkippableFact]
    public async Task Every_message_frame_carries_the_recipients_next_position_across_conversations()
    {
        shape.RequireAvailable();
        var (a, b, group) = await FriendsInAGroupAsync();
        await using var ca = await shape.ConnectAsync(a, ClientTransport.TcpProtobuf);
        await using var cb = await shape.ConnectAsync(b, ClientTransport.WebSocketJson);
        await cb.WaitForAsync(IsSyncDone, Wait);
        var (warmAck, warm) = await GroupReadyAsync(ca, cb, group);
        var (ownStart, start) = (warmAck.Position, warm.Position);

        string[] ids = ["p-1", "p-2", "p-3", "p-4"];
        await ca.SendAsync(Frames.Chat(b.Id, "one", ids[0], 1));
        await ca.SendAsync(Frames.Chat(group, "two", ids[1], 2, Msg.Types.ChatType.Group));
        await ca.SendAsync(Frames.Chat(b.Id, "three", ids[2], 3));
        await ca.SendAsync(Frames.Chat(group, "four", ids[3], 4, Msg.Types.ChatType.Group));
        var acks = new List<Msg>();
        foreach (var id in ids)
            acks.Add(await ca.AckAsync(id));
        var atB = await cb.ReceiveDistinctAsync(m => IsChat(m) && m.FromUserId == Id(a.Id), 4);

        // b's stream: its next four positions, one per message, in the order each conversation's seqs go.
        Assert.True(start > 0);
        Assert.Equal([start + 1, start + 2, start + 3, start + 4], atB.Select(m => m.Position).Order());
        Assert.Equal(atB.OrderBy(m => m.Position).Select(m => m.ClientMsgId), ids);
        // a's acks carry a's own positions: the same messages are a's updates too.
        Assert.Equal([ownStart + 1, ownStart + 2, ownStart + 3, ownStart + 4], acks.Select(m => m.Position));
    }

    [SkippableFact]
    public async Task A_SYNC_after_a_position_brings_exactly_what_the_device_missed_though_another_device_received_it()
    {
        shape.RequireAvailable();
        var (a, b, group) = await FriendsInAGroupAsync();
        await using var ca = await shape.ConnectAsync(a, ClientTransport.WebSocketJson);
        await using var phone = await shape.ConnectAsync(b, ClientTransport.TcpJson);
        await phone.WaitForAsync(IsSyncDone, Wait);
        await GroupReadyAsync(ca, phone, group);
        ulong tabletPosition;
        await using (var tablet = await shape.ConnectAsync(b, ClientTransport.WebSocketProtobuf))
        {
            await tablet.WaitForAsync(IsSyncDone, Wait);
            await ca.SendAsync(Frames.Chat(b.Id, "seen by both", "q-1"));
            tabletPosition = (await tablet.WaitForAsync(m => IsChat(m, "q-1"), Wait)).Position;
        }
        // The tablet is away; the phone receives three more and says so (ARRIVED moves b's cursors past them).
        await ca.SendAsync(Frames.Chat(group, "in the group", "q-2", chatType: Msg.Types.ChatType.Group));
        await ca.SendAsync(Frames.Chat(b.Id, "direct again", "q-3"));
        await ca.SendAsync(Frames.Chat(group, "group again", "q-4", chatType: Msg.Types.ChatType.Group));
        var atPhone = await phone.ReceiveDistinctAsync(m => IsChat(m) && m.FromUserId == Id(a.Id), 4);
        foreach (var m in atPhone)
            await phone.SendAsync(Frames.Event("ARRIVED", new Dictionary<string, object?> { ["conversation_id"] = m.ConversationId, ["seq"] = m.ConversationSeq }));

        await using var back = await shape.ConnectAsync(b, ClientTransport.WebSocketProtobuf);
        await back.WaitForAsync(IsSyncDone, Wait);
        // What the connect-time sync wrote (before its done) is not the answer to the SYNC below.
        foreach (var _ in back.Pending.Where(m => IsChat(m)).ToList())
            await back.WaitForAsync(m => IsChat(m), Wait);
        await back.SendAsync(Frames.Event("SYNC", new Dictionary<string, object?> { ["after"] = tabletPosition }));
        var (synced, done) = await UntilSyncDoneAsync(back, m => IsChat(m));

        Assert.True(tabletPosition > 1);
        Assert.Equal(["q-2", "q-3", "q-4"], synced.Select(m => m.ClientMsgId).Distinct().Order());
        Assert.Equal((long)tabletPosition + 3, Data(done).GetProperty("head").GetInt64());
        Assert.False(Data(done).TryGetProperty("position_expired", out _));
    }

    [SkippableFact]
    public async Task A_device_that_gives_its_position_in_the_handshake_is_caught_up_exactly_from_it()
    {
        shape.RequireAvailable();
        var (a, b, group) = await FriendsInAGroupAsync();
        await using var ca = await shape.ConnectAsync(a, ClientTransport.TcpProtobuf);
        var phone = await shape.ConnectAsync(b, ClientTransport.WebSocketJson);
        await phone.WaitForAsync(IsSyncDone, Wait);
        var (_, warm) = await GroupReadyAsync(ca, phone, group);
        // The phone read up to warm's position and went away; the user's ARRIVED cursors stay where they were (the
        // default connect-time sync would bring everything again).
        await phone.DisposeAsync();
        await ca.SendAsync(Frames.Chat(b.Id, "while away", "h-1"));
        await ca.SendAsync(Frames.Chat(group, "group while away", "h-2", chatType: Msg.Types.ChatType.Group));
        await ca.AckAsync("h-1");
        await ca.AckAsync("h-2");

        await using var back = await shape.ConnectAsync(b, ClientTransport.TcpJson, after: warm.Position);
        var (caughtUp, done) = await UntilSyncDoneAsync(back, m => IsChat(m));

        Assert.Equal(["h-1", "h-2"], caughtUp.Select(m => m.ClientMsgId).Distinct().Order());
        Assert.Equal((long)warm.Position + 2, Data(done).GetProperty("head").GetInt64());
    }

    [SkippableFact]
    public async Task Friend_events_and_messages_are_one_stream_and_a_reconnect_after_a_position_brings_both()
    {
        shape.RequireAvailable();
        var (a, b, group) = await FriendsInAGroupAsync();
        await using var ca = await shape.ConnectAsync(a, ClientTransport.WebSocketJson);
        var phone = await shape.ConnectAsync(b, ClientTransport.TcpProtobuf);
        await phone.WaitForAsync(IsSyncDone, Wait);
        var (_, warm) = await GroupReadyAsync(ca, phone, group);
        await phone.DisposeAsync();

        // While b is away: a message, a new group with b (GROUP_JOIN, an event of friends), another message.
        await ca.SendAsync(Frames.Chat(b.Id, "first", "o-1"));
        await ca.AckAsync("o-1");
        var second = await shape.CreateGroupAsync(a, b);
        await ca.SendAsync(Frames.Chat(b.Id, "second", "o-2"));
        await ca.AckAsync("o-2");
        // The event reaches the stream through friends' outbox: wait until the stream has it.
        await shape.StreamHoldsAsync(b, 1, after: warm.Position);

        await using var back = await shape.ConnectAsync(b, ClientTransport.WebSocketJson, after: warm.Position);
        var (frames, done) = await UntilSyncDoneAsync(back, m => IsChat(m) || Frames.IsEvent(m, "GROUP_JOIN"));

        var join = Assert.Single(frames, m => Frames.IsEvent(m, "GROUP_JOIN"));
        Assert.Equal(Id(second), Data(join).GetProperty("group_id").GetString());
        var joinPosition = Data(join).GetProperty("position").GetInt64();
        Assert.InRange(joinPosition, (long)warm.Position + 1, (long)warm.Position + 3);
        Assert.Equal(["o-1", "o-2"], frames.Where(m => IsChat(m)).Select(m => m.ClientMsgId).Distinct().Order());
        // Three updates after warm's position, messages and the event alike, and nothing else.
        Assert.Equal((long)warm.Position + 3, Data(done).GetProperty("head").GetInt64());
        // The events come first, then the messages.
        Assert.True(frames.FindIndex(m => Frames.IsEvent(m, "GROUP_JOIN")) < frames.FindIndex(m => IsChat(m)));
    }

    [SkippableFact]
    public async Task A_sender_away_while_its_message_is_read_gets_the_receipts_on_reconnect_after_its_position()
    {
        shape.RequireAvailable();
        var (a, b, _) = await FriendsInAGroupAsync();
        var ca = await shape.ConnectAsync(a, ClientTransport.TcpJson);
        await using var cb = await shape.ConnectAsync(b, ClientTransport.WebSocketProtobuf);
        await cb.WaitForAsync(IsSyncDone, Wait);
        await ca.SendAsync(Frames.Chat(b.Id, "read me", "r-1"));
        var ack = await ca.AckAsync("r-1");
        var got = await cb.WaitForAsync(m => IsChat(m, "r-1"), Wait);
        await ca.DisposeAsync();

        // a is away when b reads it: READ (and the ARRIVED it implies) are updates of a's stream.
        await cb.SendAsync(Frames.Event("READ", new Dictionary<string, object?> { ["conversation_id"] = got.ConversationId, ["seq"] = got.ConversationSeq }));
        await shape.StreamHoldsAsync(a, 2, after: ack.Position);

        await using var back = await shape.ConnectAsync(a, ClientTransport.WebSocketJson, after: ack.Position);
        var (receipts, done) = await UntilSyncDoneAsync(back, m => Frames.IsEvent(m, "ARRIVED") || Frames.IsEvent(m, "READ"));

        Assert.Equal([("ARRIVED", (long)ack.Position + 1), ("READ", (long)ack.Position + 2)],
            receipts.Select(m => (Frames.IsEvent(m, "READ") ? "READ" : "ARRIVED", Data(m).GetProperty("position").GetInt64())));
        Assert.All(receipts, m => Assert.Equal((got.ConversationId, (long)got.ConversationSeq, Id(b.Id)),
            (Data(m).GetProperty("conversation_id").GetString(), Data(m).GetProperty("seq").GetInt64(), Data(m).GetProperty("user_id").GetString())));
        Assert.Equal((long)ack.Position + 2, Data(done).GetProperty("head").GetInt64());
    }

    [SkippableFact]
    public async Task The_client_librarys_position_is_the_after_that_catches_its_next_connection_up_exactly()
    {
        shape.RequireAvailable();
        var (a, b, _) = await FriendsInAGroupAsync();
        await using var ca = await shape.ConnectAsync(a, ClientTransport.WebSocketJson);
        var phone = await shape.ConnectAsync(b, ClientTransport.TcpProtobuf, after: 0);
        await phone.WaitForAsync(IsSyncDone, Wait);
        await ca.SendAsync(Frames.Chat(b.Id, "one", "l-1"));
        var one = await phone.WaitForAsync(m => IsChat(m, "l-1"), Wait);
        await phone.SendAsync(Frames.Event("READ", new Dictionary<string, object?> { ["conversation_id"] = one.ConversationId, ["seq"] = one.ConversationSeq }));
        await ca.WaitForAsync(m => Frames.IsEvent(m, "READ"), Wait);
        // The phone has everything up to l-1 (its stream holds no receipt: it read, a was told).
        Assert.Equal(one.Position, phone.Position.Value);
        Assert.False(phone.Position.GapOpen);
        await phone.DisposeAsync();

        await ca.SendAsync(Frames.Chat(b.Id, "two", "l-2"));
        await ca.SendAsync(Frames.Chat(b.Id, "three", "l-3"));
        await ca.AckAsync("l-3");
        await using var back = await shape.ConnectAsync(b, ClientTransport.WebSocketJson, after: phone.Position.Value);
        var (caughtUp, done) = await UntilSyncDoneAsync(back, m => IsChat(m));

        Assert.Equal(["l-2", "l-3"], caughtUp.Select(m => m.ClientMsgId).Distinct().Order());
        Assert.Equal(one.Position + 2, back.Position.Value);
        Assert.Equal((long)back.Position.Value, Data(done).GetProperty("head").GetInt64());
        // a's client followed its own stream too: its acks and the READ on l-1.
        Assert.False(ca.Position.GapOpen);
    }

    [SkippableFact]
    public async Task A_handshake_with_a_bad_after_is_refused_400_naming_it()
    {
        shape.RequireAvailable();
        var a = await shape.NewUserAsync();
        await using var client = await EasyImClient.ConnectAsync("127.0.0.1", shape.SocketPort, ClientTransport.TcpJson);
        var heartbeat = Frames.Heartbeat(a.Id, a.AccessToken);
        heartbeat.Content = """{"key":"KEEP_ALIVE","after":"not a position"}""";

        await client.SendAsync(heartbeat);
        var notify = await client.WaitForAsync(m => Frames.IsNotify(m), Wait);

        Assert.Equal(400, Frames.NotifyCode(notify));
        Assert.Contains("after", notify.Content);
        await client.Closed.WaitAsync(Wait);
    }

    [SkippableTheory]
    [InlineData(-1)]
    [InlineData("x")]
    public async Task A_SYNC_with_a_bad_after_is_refused_400_naming_it_and_others_are_served(object after)
    {
        shape.RequireAvailable();
        var (a, b, _) = await FriendsInAGroupAsync();
        await using var ca = await shape.ConnectAsync(a, ClientTransport.TcpJson);
        await using var cb = await shape.ConnectAsync(b, ClientTransport.TcpJson);

        await ca.SendAsync(Frames.Event("SYNC", new Dictionary<string, object?> { ["after"] = after }));
        var notify = await ca.WaitForAsync(m => Frames.IsNotify(m), Wait);
        await cb.SendAsync(Frames.Chat(a.Id, "still here", "r-1"));
        var ack = await cb.AckAsync("r-1");
        await using var again = await shape.ConnectAsync(a, ClientTransport.TcpJson);

        Assert.Equal(400, Frames.NotifyCode(notify));
        Assert.Contains("after", notify.Content);
        Assert.Equal(Msg.Types.MsgStatus.Sent, ack.Status);
        Assert.Equal("still here", (await again.WaitForAsync(m => IsChat(m, "r-1"), Wait)).Content);
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneMessageStreamScenarios(StandaloneShape shape) : MessageStreamScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedMessageStreamScenarios(DistributedShape shape) : MessageStreamScenarios(shape);
