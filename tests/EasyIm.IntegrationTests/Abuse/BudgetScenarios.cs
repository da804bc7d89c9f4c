using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Connections;
using EasyIm.IntegrationTests.Shapes;
using Microsoft.Extensions.DependencyInjection;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Abuse;

/// <summary>
/// Every frame has a budget, and one user's excess costs only that user: a flood of any kind of frame
/// (SYNC from 0 over a long history, receipts, friend events, heartbeats, chat) is answered NOTIFY 429
/// naming the budget and then closed; a user's sockets past the cap are refused at the handshake; a
/// reader that stops reading is dropped once its queue passes its byte bound. Each while a bystander pair
/// chats and loses nothing. The shapes run with the default budgets.
/// </summary>
public abstract class BudgetScenarios(EasyImShape shape)
{
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(20);

    private async Task<(TestUser Attacker, TestUser Friend)> FriendsAsync()
    {
        var attacker = await shape.NewUserAsync("attacker");
        var friend = await shape.NewUserAsync("friend");
        await shape.MakeFriendsAsync(attacker, friend);
        return (attacker, friend);
    }

    /// <summary>Sends <paramref name="frame"/> up to <paramref name="count"/> times, as fast as the socket takes it, until the server closes.</summary>
    private static async Task FloodAsync(EasyImClient client, Msg frame, int count)
    {
        try
        {
            for (var i = 0; i < count && !client.IsClosed; i++)
                await client.SendAsync(frame);
        }
        catch (Exception ex) when (ex is IOException or SocketException or System.Net.WebSockets.WebSocketException or ObjectDisposedException)
        {
            // The server closed while the rest was still being sent: what it answered is checked by the caller.
        }
    }

    /// <summary>
    /// The attacker got NOTIFY 429 naming <paramref name="budget"/>, then the close (its last frame a NOTIFY 429
    /// saying how many refusals); returns the frames it received.
    /// </summary>
    private static async Task<IReadOnlyList<Msg>> RefusedThenClosedAsync(EasyImClient client, string budget)
    {
        var refused = await client.WaitForAsync(m => Frames.IsNotify(m, 429) && Frames.NotifyMessage(m)!.StartsWith(budget, StringComparison.Ordinal), Answer);
        Assert.Contains("over budget", Frames.NotifyMessage(refused));
        await client.Closed.WaitAsync(Answer);
        var rest = client.Pending;
        var last = rest.LastOrDefault(m => Frames.IsNotify(m));
        Assert.NotNull(last);
        Assert.Equal(429, Frames.NotifyCode(last));
        Assert.Contains("frames over budget within", Frames.NotifyMessage(last));
        return rest;
    }

    [SkippableFact]
    public async Task A_SYNC_from_0_flood_over_a_long_history_is_refused_429_then_closed_and_never_sends_the_history_unbounded()
    {
        shape.RequireAvailable();
        const int history = 300;
        var bystanders = await Bystanders.StartAsync(shape);
        var (attacker, friend) = await FriendsAsync();
        await using (var sender = await shape.ConnectAsync(friend, ClientTransport.TcpProtobuf))
        {
            await sender.SendAsync(Frames.Chat(attacker.Id, "first", "h-0"));
            Assert.Equal(Msg.Types.MsgStatus.Sent, (await sender.AckAsync("h-0")).Status);
        }
        var conversation = Conversation(attacker, friend);
        for (var i = 1; i < history; i++)
            await shape.StoreWithoutPushAsync(conversation, friend.Id, attacker.Id, $"history {i}", $"h-{i}");

        await using var client = await shape.ConnectAsync(attacker, ClientTransport.TcpJson);
        await client.WaitForAsync(m => Frames.IsEvent(m, "SYNC"), Answer);
        // Delivery is at least once (a message routed while the user was away may be replayed too): by id.
        Assert.Equal(history, client.Pending.Where(m => IsChat(m)).Select(m => m.Id).Distinct().Count());
        var fromZero = Frames.Event("SYNC", new Dictionary<string, object?> { ["conversations"] = new Dictionary<string, object?> { [conversation] = 0 } });
        await FloodAsync(client, fromZero, 1000);

        var received = await RefusedThenClosedAsync(client, "SYNC requests are over budget");
        // What reached the attacker after its connect-time sync is bounded by its budget, whatever it asked:
        // at most a burst of SYNCs (5 by default), each answered page by page as the client read.
        Assert.InRange(received.Count(m => Frames.IsEvent(m, "SYNC")), 0, 5);
        Assert.InRange(received.Count(m => IsChat(m)), history, 6 * history);
        await bystanders.VerifyAsync();
    }

    [SkippableFact]
    public async Task A_receipt_flood_is_refused_429_then_closed_while_other_users_receipts_and_chat_go_on()
    {
        shape.RequireAvailable();
        var bystanders = await Bystanders.StartAsync(shape);
        var (attacker, friend) = await FriendsAsync();
        var (reader, writer) = await FriendsAsync();
        await using var readerClient = await shape.ConnectAsync(reader, ClientTransport.WebSocketJson);
        await using var writerClient = await shape.ConnectAsync(writer, ClientTransport.TcpProtobuf);
        await using var client = await shape.ConnectAsync(attacker, ClientTransport.TcpJson);
        var conversation = Conversation(attacker, friend);

        // 20,000 receipts in one burst: ARRIVED and READ, for the real conversation and made-up ones.
        var lines = new StringBuilder();
        for (var i = 0; i < 20_000; i++)
        {
            var key = i % 2 == 0 ? "ARRIVED" : "READ";
            var target = i % 3 == 0 ? conversation : $"s_{i}_{i + 1}";
            lines.Append($"{{\"msg_type\":4,\"content\":{{\"key\":\"{key}\",\"conversation_id\":\"{target}\",\"seq\":{i + 1}}}}}\n");
        }
        var flood = Task.Run(async () =>
        {
            try
            {
                await client.SendRawAsync(Encoding.UTF8.GetBytes(lines.ToString()));
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                // Closed under the burst.
            }
        });

        // Meanwhile, and after, another pair's receipts reach the sender.
        var readerConversation = Conversation(reader, writer);
        for (var i = 1; i <= 3; i++)
        {
            await writerClient.SendAsync(Frames.Chat(reader.Id, $"read me {i}", $"r-{i}"));
            var arrived = await readerClient.WaitForAsync(m => IsChat(m, $"r-{i}"), Answer);
            await readerClient.SendAsync(Frames.Event("READ", new Dictionary<string, object?> { ["conversation_id"] = readerConversation, ["seq"] = arrived.ConversationSeq }));
            var read = await writerClient.WaitForAsync(m => Frames.IsEvent(m, "READ") && Data(m).GetProperty("seq").GetUInt64() == arrived.ConversationSeq, Answer);
            Assert.Equal(Msg.Types.MsgStatus.Read, read.Status);
            if (i == 2)
                await flood;
        }

        await RefusedThenClosedAsync(client, "receipts (ARRIVED, READ) are over budget");
        await bystanders.VerifyAsync();
    }

    [SkippableFact]
    public async Task Sockets_past_the_cap_are_refused_429_at_the_handshake_and_the_first_ones_are_still_served()
    {
        shape.RequireAvailable();
        const int cap = 10;
        var bystanders = await Bystanders.StartAsync(shape);
        var attacker = await shape.NewUserAsync("attacker");
        var held = new List<EasyImClient>();
        try
        {
            for (var i = 0; i < cap; i++)
                held.Add(await shape.ConnectAsync(attacker, i % 2 == 0 ? ClientTransport.TcpJson : ClientTransport.WebSocketProtobuf));

            foreach (var transport in new[] { ClientTransport.TcpProtobuf, ClientTransport.WebSocketJson })
            {
                var refused = await Assert.ThrowsAsync<EasyImServerException>(() => shape.ConnectAsync(attacker, transport));
                Assert.Equal(429, refused.Code);
                Assert.Contains($"already has {cap} live connections", refused.ServerMessage);
            }

            foreach (var client in held)
            {
                await client.SendAsync(Frames.Heartbeat(attacker.Id));
                await client.WaitForAsync(m => Frames.IsEvent(m, Frames.KeepAlive), Answer);
                Assert.False(client.IsClosed);
            }
            // One closed makes room for one more.
            await held[0].DisposeAsync();
            var registry = shape.GatewayServices.GetRequiredService<ConnectionRegistry>();
            await EventuallyAsync(() => registry.OfUser(attacker.Id).Length < cap, "the closed connection still holds its place");
            held[0] = await shape.ConnectAsync(attacker, ClientTransport.TcpJson);
        }
        finally
        {
            foreach (var client in held)
                await client.DisposeAsync();
        }
        await bystanders.VerifyAsync();
    }

    [SkippableFact]
    public async Task A_reader_that_stops_reading_fed_large_messages_is_dropped_once_its_queue_passes_the_byte_bound()
    {
        shape.RequireAvailable();
        var bystanders = await Bystanders.StartAsync(shape);
        var slow = await shape.NewUserAsync("slow");
        var friends = new List<TestUser>();
        for (var i = 0; i < 12; i++)
        {
            var friend = await shape.NewUserAsync("friend");
            await shape.MakeFriendsAsync(friend, slow);
            friends.Add(friend);
        }

        // A raw socket with a small receive window that never reads; it keeps sending heartbeats, so only
        // its reading (not silence) can get it dropped.
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync("127.0.0.1", shape.SocketPort);
        var handshake = $"{{\"msg_type\":4,\"from_user_id\":\"{slow.Id}\",\"access_token\":\"{slow.AccessToken}\",\"content\":{{\"key\":\"KEEP_ALIVE\"}}}}\n";
        await socket.SendAsync(Encoding.UTF8.GetBytes(handshake));
        var registry = shape.GatewayServices.GetRequiredService<ConnectionRegistry>();
        await EventuallyAsync(() => registry.OfUser(slow.Id).Length == 1, "the slow reader's handshake was not taken");
        var connection = registry.OfUser(slow.Id)[0];
        using var stop = new CancellationTokenSource();
        var beating = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            var beat = Encoding.UTF8.GetBytes("{\"msg_type\":4,\"content\":{\"key\":\"KEEP_ALIVE\"}}\n");
            try
            {
                while (await timer.WaitForNextTickAsync(stop.Token))
                    await socket.SendAsync(beat, SocketFlags.None, stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        });

        // 12 friends x 60 messages of 15,000 characters, about 11 MB: more than the socket's own buffers take (the
        // kernel's send buffer grows to 4 MB on loopback) plus a queue bounded at 4 MiB, in 720 frames of the 2,048 it may hold.
        // 900 KB a friend, within each one's budget of chat bytes (1 MiB at once).
        const int each = 60;
        var content = new string('x', 15_000);
        var senders = friends.Select(friend => Task.Run(async () =>
        {
            await using var client = await shape.ConnectAsync(friend, ClientTransport.TcpProtobuf);
            for (var i = 0; i < each; i++)
                await client.SendAsync(Frames.Chat(slow.Id, content, $"big-{friend.Id}-{i}"));
            for (var i = 0; i < each; i++)
                Assert.Equal(Msg.Types.MsgStatus.Sent, (await client.AckAsync($"big-{friend.Id}-{i}")).Status);
        })).ToList();
        await Task.WhenAll(senders);

        await EventuallyAsync(() => connection.IsClosing, "the reader that does not read is still open");
        Assert.Equal("send queue full (4194304 bytes): the client does not read what it is sent", connection.CloseReason);
        await EventuallyAsync(() => registry.OfUser(slow.Id).IsEmpty, "the dropped reader is still registered");
        await stop.CancelAsync();
        await beating;
        await bystanders.VerifyAsync();
    }

    [SkippableTheory]
    [InlineData("FRIEND_INVITE", "friend events (FRIEND_INVITE, FRIEND_AGREE) are over budget")]
    [InlineData("KEEP_ALIVE", "heartbeats (KEEP_ALIVE) are over budget")]
    [InlineData("TYPING", "chat messages and TYPING are over budget")]
    public async Task A_flood_of_one_kind_of_event_is_refused_429_naming_its_budget_then_closed(string key, string budget)
    {
        shape.RequireAvailable();
        var bystanders = await Bystanders.StartAsync(shape);
        var (attacker, friend) = await FriendsAsync();
        await using var client = await shape.ConnectAsync(attacker, ClientTransport.WebSocketProtobuf);

        var target = key == "FRIEND_INVITE" ? (await shape.NewUserAsync()).Id : friend.Id;
        await FloodAsync(client, Frames.Event(key, toUserId: key == "KEEP_ALIVE" ? 0 : target), 50_000);

        await RefusedThenClosedAsync(client, budget);
        await bystanders.VerifyAsync();
    }

    [SkippableFact]
    public async Task A_chat_flood_gets_a_FAIL_for_each_refused_message_then_is_closed()
    {
        shape.RequireAvailable();
        var bystanders = await Bystanders.StartAsync(shape);
        var (attacker, friend) = await FriendsAsync();
        await using var client = await shape.ConnectAsync(attacker, ClientTransport.TcpProtobuf);

        try
        {
            for (var i = 0; i < 2_000 && !client.IsClosed; i++)
                await client.SendAsync(Frames.Chat(friend.Id, "spam", $"spam-{i}"));
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
        }

        var received = await RefusedThenClosedAsync(client, "chat messages and TYPING are over budget");
        var fails = received.Where(m => IsChat(m) && m.Status == Msg.Types.MsgStatus.Fail).ToList();
        Assert.NotEmpty(fails);
        Assert.All(fails, f => Assert.StartsWith("chat messages and TYPING are over budget", f.Error));
        await bystanders.VerifyAsync();
    }

    [SkippableFact]
    public async Task HTTP_requests_past_the_users_budget_are_answered_429_and_the_friend_routes_share_the_socket_events_budget()
    {
        shape.RequireAvailable();
        var bystanders = await Bystanders.StartAsync(shape);
        var (attacker, friend) = await FriendsAsync();
        var target = await shape.NewUserAsync();

        // FRIEND_INVITE over HTTP draws from the user's friend-event budget (20 at once) as over a socket.
        var invites = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => shape.PostAsync("/api/user/friend/add", new { to_user_id = Id(target.Id) }, attacker.AccessToken)));
        var refused = invites.First(r => r.Status == 429);
        Assert.StartsWith("friend events (FRIEND_INVITE, FRIEND_AGREE) are over budget", refused.Msg);
        Assert.Equal(429, refused.Code);

        // Any request with the user's token draws from its API budget (200 at once, then 20 a second): 400 at once.
        var replies = await Task.WhenAll(Enumerable.Range(0, 400).Select(_ => shape.GetAsync("/api/user/friends", attacker.AccessToken)));
        Assert.All(replies, r => Assert.Contains(r.Status, new[] { 200, 429 }));
        // The burst less what the invites and the setup already drew (about 45), plus what refilled meanwhile.
        Assert.InRange(replies.Count(r => r.Status == 200), 100, 399);
        Assert.StartsWith("HTTP API requests are over budget", replies.First(r => r.Status == 429).Msg);
        // Another user is served meanwhile.
        Assert.Equal(200, (await shape.GetAsync("/api/user/friends", friend.AccessToken)).Status);
        await bystanders.VerifyAsync();
    }

    /// <summary>Polls a condition the server reaches on its own, for at most <see cref="Answer"/>.</summary>
    private static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < Answer, what);
            await Task.Delay(50);
        }
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneBudgetScenarios(StandaloneShape shape) : BudgetScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedBudgetScenarios(DistributedShape shape) : BudgetScenarios(shape);
