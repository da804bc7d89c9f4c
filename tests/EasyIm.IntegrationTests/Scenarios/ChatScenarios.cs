using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>
/// The invariants of the message path (DESIGN.md), over real sockets: nothing lost, no gap,
/// order, idempotent send, multi-device, UTF-8 across formats, group fan-out, authorization.
/// </summary>
public abstract class ChatScenarios(EasyImShape shape)
{
    private async Task<(TestUser A, TestUser B)> FriendsAsync()
    {
        var a = await shape.NewUserAsync();
        var b = await shape.NewUserAsync();
        await shape.MakeFriendsAsync(a, b);
        return (a, b);
    }

    [SkippableFact]
    public async Task A_websocket_json_client_and_a_tcp_protobuf_client_chat_in_chinese_and_emoji()
    {
        shape.RequireAvailable();
        var (a, b) = await FriendsAsync();
        await using var web = await shape.ConnectAsync(a, ClientTransport.WebSocketJson);
        await using var tcp = await shape.ConnectAsync(b, ClientTransport.TcpProtobuf);
        const string hello = "你好，世界 👋🏽 — ünïcödé";
        const string reply = "收到！🎉🚀 ok";

        await web.SendAsync(Frames.Chat(b.Id, hello, "m-1", seq: 7));
        var ack = await web.AckAsync("m-1");
        var atB = await tcp.WaitForAsync(m => IsChat(m, "m-1"), Wait);
        await tcp.SendAsync(Frames.Chat(a.Id, reply, "m-2", seq: 1));
        var atA = await web.WaitForAsync(m => IsChat(m, "m-2") && m.FromUserId == Id(b.Id), Wait);

        Assert.Equal(Msg.Types.MsgStatus.Sent, ack.Status);
        Assert.False(string.IsNullOrEmpty(ack.Id));
        Assert.Equal(Conversation(a, b), ack.ConversationId);
        Assert.Equal(1UL, ack.ConversationSeq);
        Assert.True(ack.SentAt > 0);
        Assert.Equal(7U, ack.Seq);
        Assert.Equal(hello, atB.Content);
        Assert.Equal(ack.Id, atB.Id);
        Assert.Equal(Id(a.Id), atB.FromUserId);
        Assert.Equal(Id(b.Id), atB.ToUserId);
        Assert.Equal(reply, atA.Content);
        Assert.Equal(2UL, atA.ConversationSeq);
    }

    [SkippableFact]
    public async Task A_hundred_quick_messages_arrive_in_send_order_with_increasing_seq()
    {
        shape.RequireAvailable();
        var (a, b) = await FriendsAsync();
        await using var sender = await shape.ConnectAsync(a, ClientTransport.TcpProtobuf);
        await using var receiver = await shape.ConnectAsync(b, ClientTransport.WebSocketJson);
        // Steady state: the receiver's connect-time sync is over (a connect racing sends is the flood test's).
        await receiver.WaitForAsync(m => Frames.IsEvent(m, "SYNC"), Wait);

        for (var i = 0; i < 100; i++)
            await sender.SendAsync(Frames.Chat(b.Id, $"n{i}", $"o-{i}", (uint)i + 1));
        var got = await receiver.ReceiveDistinctAsync(m => IsChat(m) && m.FromUserId == Id(a.Id), 100);

        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"n{i}"), got.Select(m => m.Content));
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (ulong)i), got.Select(m => m.ConversationSeq));
    }

    [SkippableFact]
    public async Task A_resend_returns_the_original_id_and_seq_and_history_shows_one()
    {
        shape.RequireAvailable();
        var (a, b) = await FriendsAsync();
        await using var sender = await shape.ConnectAsync(a);

        await sender.SendAsync(Frames.Chat(b.Id, "once", "dup-1"));
        var first = await sender.AckAsync("dup-1");
        await sender.SendAsync(Frames.Chat(b.Id, "once", "dup-1"));
        var second = await sender.AckAsync("dup-1");
        var history = await shape.GetAsync($"/api/chat/history?conversation_id={Conversation(a, b)}", a.AccessToken);

        Assert.Equal((first.Id, first.ConversationSeq), (second.Id, second.ConversationSeq));
        Assert.Equal(Msg.Types.MsgStatus.Sent, second.Status);
        Assert.Equal(200, history.Status);
        Assert.Single(history.Data.GetProperty("items").EnumerateArray());
    }

    [SkippableFact]
    public async Task A_message_acked_sent_survives_a_restart_and_reaches_the_recipient_on_connect()
    {
        shape.RequireAvailable();
        var (a, b) = await FriendsAsync();
        string id;
        await using (var sender = await shape.ConnectAsync(a))
        {
            await sender.SendAsync(Frames.Chat(b.Id, "kept across a restart", "keep-1"));
            id = (await sender.AckAsync("keep-1")).Id;
        }

        await shape.RestartAsync();
        await using var receiver = await shape.ConnectAsync(b, ClientTransport.TcpProtobuf);
        var got = await receiver.WaitForAsync(m => IsChat(m, "keep-1"), Wait);

        Assert.Equal(id, got.Id);
        Assert.Equal("kept across a restart", got.Content);
    }

    [SkippableFact]
    public async Task Offline_messages_arrive_once_in_order_after_reconnect_then_sync_done()
    {
        shape.RequireAvailable();
        var (a, b) = await FriendsAsync();
        await using var sender = await shape.ConnectAsync(a);
        for (var i = 0; i < 20; i++)
            await sender.SendAsync(Frames.Chat(b.Id, $"off{i}", $"off-{i}"));
        await sender.AckAsync("off-19");

        await using var receiver = await shape.ConnectAsync(b);
        var done = await receiver.WaitForAsync(m => Frames.IsEvent(m, "SYNC"), Wait);
        // What arrived before done, each id once (delivery is at least once; clients drop duplicates by id).
        var synced = receiver.Pending.Where(m => IsChat(m)).DistinctBy(m => m.Id).ToList();

        Assert.True(Data(done).GetProperty("done").GetBoolean());
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"off{i}"), synced.Select(m => m.Content));
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (ulong)i), synced.Select(m => m.ConversationSeq));
    }

    [SkippableFact]
    public async Task A_connect_racing_a_flood_of_sends_misses_nothing()
    {
        shape.RequireAvailable();
        var (a, b) = await FriendsAsync();
        await using var sender = await shape.ConnectAsync(a, ClientTransport.TcpProtobuf);
        const int count = 150;

        var flood = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
                await sender.SendAsync(Frames.Chat(b.Id, $"f{i}", $"flood-{i}"));
        });
        await using var receiver = await shape.ConnectAsync(b);
        await flood;
        await sender.AckAsync($"flood-{count - 1}");

        var seen = new HashSet<string>();
        while (seen.Count < count)
        {
            var m = await receiver.WaitForAsync(m => IsChat(m) && m.FromUserId == Id(a.Id), Wait);
            seen.Add(m.Content);
        }
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"f{i}").ToHashSet(), seen);
    }

    [SkippableFact]
    public async Task The_senders_other_devices_get_the_message_and_only_the_sending_one_gets_the_ack()
    {
        shape.RequireAvailable();
        var (a, b) = await FriendsAsync();
        await using var phone = await shape.ConnectAsync(a, ClientTransport.TcpJson, deviceId: "phone");
        await using var laptop = await shape.ConnectAsync(a, ClientTransport.WebSocketProtobuf, deviceId: "laptop");
        await using var peer = await shape.ConnectAsync(b);

        await phone.SendAsync(Frames.Chat(b.Id, "from my phone", "md-1"));
        var ack = await phone.AckAsync("md-1");
        var onLaptop = await laptop.WaitForAsync(m => IsChat(m, "md-1"), Wait);
        var onPeer = await peer.WaitForAsync(m => IsChat(m, "md-1"), Wait);

        Assert.Equal(ack.Id, onLaptop.Id);
        Assert.Equal(ack.Id, onPeer.Id);
        Assert.Equal("from my phone", onLaptop.Content);
    }

    [SkippableFact]
    public async Task A_group_of_three_chats_and_everyone_else_gets_each_message()
    {
        shape.RequireAvailable();
        var owner = await shape.NewUserAsync();
        var b = await shape.NewUserAsync();
        var c = await shape.NewUserAsync();
        await shape.MakeFriendsAsync(owner, b);
        await shape.MakeFriendsAsync(owner, c);
        var group = await shape.CreateGroupAsync(owner, b, c);
        await using var o = await shape.ConnectAsync(owner);
        await using var cb = await shape.ConnectAsync(b, ClientTransport.TcpProtobuf);
        await using var cc = await shape.ConnectAsync(c, ClientTransport.WebSocketJson);

        await o.SendAsync(Frames.Chat(group, "hi all", "g-1", chatType: Msg.Types.ChatType.Group));
        var ack = await o.AckAsync("g-1");
        await cb.SendAsync(Frames.Chat(group, "hi from b", "g-2", chatType: Msg.Types.ChatType.Group));
        await cb.AckAsync("g-2");

        Assert.Equal($"g_{Id(group)}", ack.ConversationId);
        foreach (var (client, wanted) in new[] { (cb, "g-1"), (cc, "g-1"), (o, "g-2"), (cc, "g-2") })
        {
            var m = await client.WaitForAsync(m => IsChat(m, wanted), Wait);
            Assert.Equal(Msg.Types.ChatType.Group, m.ChatType);
            Assert.Equal($"g_{Id(group)}", m.ConversationId);
        }
    }

    [SkippableFact]
    public async Task Strangers_and_non_members_are_refused_with_an_error_and_cannot_read_history()
    {
        shape.RequireAvailable();
        var (a, b) = await FriendsAsync();
        var stranger = await shape.NewUserAsync();
        var group = await shape.CreateGroupAsync(a, b);
        await using var s = await shape.ConnectAsync(stranger);

        await s.SendAsync(Frames.Chat(a.Id, "let me in", "x-1"));
        var toUser = await s.AckAsync("x-1");
        await s.SendAsync(Frames.Chat(group, "let me in", "x-2", chatType: Msg.Types.ChatType.Group));
        var toGroup = await s.AckAsync("x-2");
        var history = await shape.GetAsync($"/api/chat/history?conversation_id={Conversation(a, b)}", stranger.AccessToken);
        var groupHistory = await shape.GetAsync($"/api/chat/history?conversation_id=g_{Id(group)}", stranger.AccessToken);

        Assert.Equal(Msg.Types.MsgStatus.Fail, toUser.Status);
        Assert.False(string.IsNullOrEmpty(toUser.Error));
        Assert.Equal(Msg.Types.MsgStatus.Fail, toGroup.Status);
        Assert.False(string.IsNullOrEmpty(toGroup.Error));
        Assert.Equal(403, history.Status);
        Assert.Equal(403, groupHistory.Status);
        // The refused connection keeps working.
        await s.SendAsync(Frames.Heartbeat(stranger.Id));
        await s.WaitForAsync(m => Frames.IsEvent(m, Frames.KeepAlive), Wait);
    }

    [SkippableFact]
    public async Task Arrived_and_read_receipts_reach_the_sender_and_clear_unread()
    {
        shape.RequireAvailable();
        var (a, b) = await FriendsAsync();
        await using var ca = await shape.ConnectAsync(a);
        await using var cb = await shape.ConnectAsync(b);
        await ca.SendAsync(Frames.Chat(b.Id, "one", "r-1"));
        await ca.SendAsync(Frames.Chat(b.Id, "two", "r-2"));
        var last = await ca.AckAsync("r-2");
        var conversation = Conversation(a, b);

        var unreadBefore = await shape.GetAsync("/api/chat/conversations", b.AccessToken);
        await cb.SendAsync(Frames.Event("ARRIVED", new Dictionary<string, object?> { ["conversation_id"] = conversation, ["seq"] = last.ConversationSeq }));
        var arrived = await ca.WaitForAsync(m => Frames.IsEvent(m, "ARRIVED"), Wait);
        await cb.SendAsync(Frames.Event("READ", new Dictionary<string, object?> { ["conversation_id"] = conversation, ["seq"] = last.ConversationSeq }));
        var read = await ca.WaitForAsync(m => Frames.IsEvent(m, "READ"), Wait);
        var unreadAfter = await shape.GetAsync("/api/chat/conversations", b.AccessToken);

        Assert.Equal(conversation, Data(arrived).GetProperty("conversation_id").GetString());
        Assert.Equal((long)last.ConversationSeq, Data(arrived).GetProperty("seq").GetInt64());
        Assert.Equal(Id(b.Id), Data(read).GetProperty("user_id").GetString());
        Assert.Equal(2, Unread(unreadBefore, conversation));
        Assert.Equal(0, Unread(unreadAfter, conversation));
    }

    private static int Unread(ApiReply conversations, string id) =>
        conversations.Data.GetProperty("items").EnumerateArray()
            .Single(c => c.GetProperty("conversation_id").GetString() == id).GetProperty("unread").GetInt32();

    [SkippableFact]
    public async Task Sync_with_my_own_cursors_returns_what_is_after_them_then_done()
    {
        shape.RequireAvailable();
        var (a, b) = await FriendsAsync();
        await using var ca = await shape.ConnectAsync(a);
        await using var cb = await shape.ConnectAsync(b);
        await cb.WaitForAsync(m => Frames.IsEvent(m, "SYNC"), Wait);
        // b is online: all five arrive live (or replayed), and b takes them all before asking.
        for (var i = 1; i <= 5; i++)
            await ca.SendAsync(Frames.Chat(b.Id, $"s{i}", $"sy-{i}"));
        await cb.ReceiveDistinctAsync(m => IsChat(m), 5);
        while (cb.Pending.Any(m => IsChat(m)))
            await cb.WaitForAsync(m => IsChat(m), Wait);

        await cb.SendAsync(Frames.Event("SYNC", new Dictionary<string, object?>
        {
            ["conversations"] = new Dictionary<string, object?> { [Conversation(a, b)] = 3 },
        }));
        var done = await cb.WaitForAsync(m => Frames.IsEvent(m, "SYNC"), Wait);
        var after = cb.Pending.Where(m => IsChat(m)).Select(m => m.Content).ToList();

        Assert.True(Data(done).GetProperty("done").GetBoolean());
        Assert.Equal(["s4", "s5"], after);
    }

    [SkippableFact]
    public async Task A_message_stored_but_never_pushed_reaches_the_live_recipient_before_the_next_one()
    {
        shape.RequireAvailable();
        var (a, b) = await FriendsAsync();
        await using var ca = await shape.ConnectAsync(a);
        await using var cb = await shape.ConnectAsync(b, ClientTransport.TcpProtobuf);
        await cb.WaitForAsync(m => Frames.IsEvent(m, "SYNC"), Wait);
        await ca.SendAsync(Frames.Chat(b.Id, "one", "lp-1", seq: 1));
        await cb.WaitForAsync(m => IsChat(m, "lp-1"), Wait);

        // Messaging committed "two" and died before pushing it; "three" is pushed as usual.
        var lost = await shape.StoreWithoutPushAsync(Conversation(a, b), a.Id, b.Id, "two", "lp-2");
        await ca.SendAsync(Frames.Chat(b.Id, "three", "lp-3", seq: 3));
        var ack = await ca.AckAsync("lp-3");
        var got = await cb.ReceiveDistinctAsync(m => IsChat(m) && m.FromUserId == Id(a.Id), 2);

        Assert.Equal(2, lost);
        Assert.Equal(3UL, ack.ConversationSeq);
        // The recipient's gateway saw seq 3 after 1, asked for what is after 1, and wrote 2 before 3.
        Assert.Equal(["two", "three"], got.Select(m => m.Content));
        Assert.Equal([2UL, 3UL], got.Select(m => m.ConversationSeq));
        // The gap fill is the gateway's own: the client got no second SYNC event.
        Assert.DoesNotContain(cb.Pending, m => Frames.IsEvent(m, "SYNC"));
        // The sender's own connection had the same gap: its ack of "three" came after "two".
        Assert.Contains(ca.Pending, m => IsChat(m, "lp-2"));
    }

    [SkippableFact]
    public async Task Typing_is_relayed_to_the_peer()
    {
        shape.RequireAvailable();
        var (a, b) = await FriendsAsync();
        await using var ca = await shape.ConnectAsync(a);
        await using var cb = await shape.ConnectAsync(b);

        // Typing is not stored: one sent before messaging has heard of b's new connection reaches nobody.
        // A client sends it again while the user types, so the test does too (every second, bounded).
        Msg? typing = null;
        for (var attempt = 0; typing is null && attempt < 20; attempt++)
        {
            await ca.SendAsync(Frames.Event("TYPING", toUserId: b.Id));
            typing = await cb.TryWaitForAsync(m => Frames.IsEvent(m, "TYPING"), TimeSpan.FromSeconds(1));
        }

        Assert.NotNull(typing);

        Assert.Equal(Id(a.Id), typing.FromUserId);
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneChatScenarios(StandaloneShape shape) : ChatScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedChatScenarios(DistributedShape shape) : ChatScenarios(shape);
