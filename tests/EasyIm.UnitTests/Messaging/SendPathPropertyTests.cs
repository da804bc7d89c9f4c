using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Sending;
using MassTransit;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Messaging;

/// <summary>
/// Random interleavings against messaging's real send path (its consumers, pipeline and SQLite store; two fake
/// gateways): sends from many connections of two gateways to friends, friends the projection has not heard of
/// (set aside while friends is asked, which answers late), strangers and a group, in batches of random sizes;
/// transactions that fail and are retried; connections that drop and resend what got no ack, as clients do. Then,
/// per user and conversation: seqs gap-free from 1, each message stored once and acked with that row, every
/// message to a friend or the group stored and every one to a stranger refused, the sender's order kept, and
/// every stored message pushed to each of its recipients; and each user's update stream (<see cref="AssertStreamsAsync"/>).
/// A failing seed is reproduced with <c>EASYIM_PROPERTY_SEED=n dotnet test --filter SendPathPropertyTests</c>.
/// </summary>
public sealed class SendPathPropertyTests
{
    private const int Users = 6;
    private const int Operations = 250;

    private enum Kind { Friend, LateFriend, Stranger, Group }

    private sealed record Sent(string ClientMsgId, long From, long To, Kind Kind, int Order)
    {
        public string Conversation => Kind == Kind.Group ? ConversationId.ForGroup(To).ToString() : ConversationId.ForPair(From, To).ToString();
    }

    /// <summary>A client: one connection at a time; what it sent in order; what was answered.</summary>
    private sealed class Client(long user, string gateway)
    {
        public long User { get; } = user;
        public string Gateway { get; } = gateway;
        public int Generation { get; set; }
        public string Connection => $"p{User}-{Generation}";
        public string? Previous { get; set; }
        public List<Sent> Sent { get; } = [];
        public Dictionary<string, WireMessage> Acks { get; } = [];
        public Dictionary<string, string> Refused { get; } = [];
        public bool Closed { get; set; }
        public IEnumerable<Sent> Unanswered => Sent.Where(s => !Acks.ContainsKey(s.ClientMsgId) && !Refused.ContainsKey(s.ClientMsgId));
    }

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        if (int.TryParse(Environment.GetEnvironmentVariable("EASYIM_PROPERTY_SEED"), out var seed))
            data.Add(seed);
        else
            foreach (var s in new[] { 11, 23, 37, 41 })
                data.Add(s);
        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Random_sends_failures_and_reconnects_keep_every_conversation_gap_free_and_every_sender_in_order(int seed)
    {
        var random = new Random(seed);
        var users = Enumerable.Range(0, Users).Select(_ => MessagingHost.NewUserId()).ToArray();
        var groupId = MessagingHost.NewUserId();
        var strangers = Enumerable.Range(0, 3).Select(_ => MessagingHost.NewUserId()).ToArray();
        // Friends knows these friendships; the projection never hears of them, so each first send is set aside and asked.
        var lateFriends = users.ToDictionary(u => u, _ => MessagingHost.NewUserId());
        var friendsDelay = new Random(seed + 1);
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?>
        {
            ["Messaging:MaxMessagesPerTransaction"] = "8",
            ["Messaging:RelationshipCheckTimeoutMs"] = "20000",
            ["Messaging:RelationshipAskBurst"] = "1000",
        },
            configureBus: bus => bus.AddHandler<CheckRelationships>(async context =>
            {
                int delay;
                lock (friendsDelay)
                    delay = friendsDelay.Next(0, 40);
                await Task.Delay(delay);
                await context.RespondAsync(new RelationshipsChecked(context.Message.Queries
                    .Select(q => new RelationshipAnswer(q.UserId, q.OtherId, q.IsGroup, !q.IsGroup && lateFriends.GetValueOrDefault(q.UserId) == q.OtherId))
                    .ToList()));
            }));
        for (var i = 0; i < users.Length; i++)
        {
            await host.JoinGroupAsync(groupId, users[i]);
            for (var j = i + 1; j < users.Length; j++)
                await host.BefriendAsync(users[i], users[j]);
        }

        var failNext = 0;
        var injected = 0;
        var receipts = 0;
        host.Services.GetRequiredService<SendPipeline>().BeforeCommit = _ =>
        {
            if (Interlocked.Exchange(ref failNext, 0) == 0)
                return Task.CompletedTask;
            Interlocked.Increment(ref injected);
            throw new SqliteException("injected failure before commit", 5);
        };

        var clients = users.Select((u, i) => new Client(u, i % 2 == 0 ? MessagingHost.G1 : MessagingHost.G2)).ToList();
        var batches = new Dictionary<string, List<ChatSubmission>> { [MessagingHost.G1] = [], [MessagingHost.G2] = [] };
        var order = 0;

        async Task FlushAsync(string gateway)
        {
            if (batches[gateway].Count == 0)
                return;
            var batch = batches[gateway].ToArray();
            batches[gateway].Clear();
            await host.SubmitFromAsync(gateway, batch);
        }

        void Submit(Client client, Sent sent)
        {
            var message = sent.Kind == Kind.Group
                ? MessagingHost.Chat(client.User, groupId, sent.ClientMsgId, sent.ClientMsgId, chatType: 1, connection: client.Connection)
                : MessagingHost.Chat(client.User, sent.To, sent.ClientMsgId, sent.ClientMsgId, connection: client.Connection);
            batches[client.Gateway].Add(message with { PreviousClientMsgId = client.Previous });
            client.Previous = sent.ClientMsgId;
        }

        // The client's reconnect: a new connection, and what got no answer sent again on it, in order.
        async Task ReconnectAsync(Client client)
        {
            await FlushAsync(client.Gateway);
            await host.Harness.Bus.Publish(new UserDisconnected(client.User, client.Gateway, client.Connection, DateTimeOffset.UtcNow));
            client.Generation++;
            client.Previous = null;
            client.Closed = false;
            foreach (var sent in client.Unanswered.ToList())
                Submit(client, sent);
            await FlushAsync(client.Gateway);
        }

        void ReadAnswers()
        {
            foreach (var push in host.Pushes.Snapshot())
            {
                var client = clients.FirstOrDefault(c => c.User == push.Push.UserId);
                var m = push.Push.Message;
                if (client is null || push.Push.OnlyConnectionId is null || m.ClientMsgId is null || m.MsgType is < 0 or > 3)
                    continue;
                if (m.Status == MessageStatus.Sent)
                {
                    if (client.Acks.TryGetValue(m.ClientMsgId, out var earlier))
                        Assert.True(earlier.Id == m.Id, $"seed {seed}: two acks of {m.ClientMsgId} name different messages ({earlier.Id}, {m.Id})");
                    client.Acks[m.ClientMsgId] = m;
                    client.Refused.Remove(m.ClientMsgId);
                }
                else if (!client.Acks.ContainsKey(m.ClientMsgId) && push.Push.OnlyConnectionId == client.Connection)
                {
                    // A refusal that closes the connection is "send it again"; one that does not is final.
                    if (push.Push.Close)
                        client.Closed = true;
                    else
                        client.Refused[m.ClientMsgId] = m.Error ?? "";
                }
            }
        }

        // receiptShare: the percentage of operations that are a receipt.
        async Task RunAsync(int operations, int receiptShare)
        {
            for (var op = 0; op < operations; op++)
            {
                var client = clients[random.Next(clients.Count)];
                var roll = random.Next(100);
                if (random.Next(100) < receiptShare)
                {
                    // Through the newest message of a conversation acked so far (so stored), or a little past it (messaging
                    // clamps a receipt to what is stored). It moves cursors in the writer's queue, between the chat, and tells
                    // the messages' senders (updates of their streams).
                    ReadAnswers();
                    var user = client.User;
                    var toMe = clients.Where(c => c.User != user).SelectMany(c => c.Acks.Values)
                        .Where(a => a.ChatType == 1 || a.ToUserId == user)
                        .GroupBy(a => a.ConversationId!)
                        .OrderBy(g => g.Key, StringComparer.Ordinal)
                        .ToList();
                    if (toMe.Count > 0)
                    {
                        var conversation = toMe[random.Next(toMe.Count)];
                        await host.Harness.Bus.Publish(new RecordReceipts([new Receipt(user, conversation.Key,
                            conversation.Max(a => a.ConversationSeq) + (ulong)random.Next(3), random.Next(2) == 0 ? MessageStatus.Arrived : MessageStatus.Read)]));
                        receipts++;
                    }
                }
                else if (roll < 78)
                {
                    var kindRoll = random.Next(100);
                    var kind = kindRoll < 50 ? Kind.Friend : kindRoll < 75 ? Kind.Group : kindRoll < 90 ? Kind.LateFriend : Kind.Stranger;
                    var to = kind switch
                    {
                        Kind.Friend => users.Where(u => u != client.User).ElementAt(random.Next(Users - 1)),
                        Kind.LateFriend => lateFriends[client.User],
                        Kind.Stranger => strangers[random.Next(strangers.Length)],
                        _ => groupId,
                    };
                    var sent = new Sent($"s{seed}-{client.User}-{client.Sent.Count}", client.User, to, kind, order++);
                    client.Sent.Add(sent);
                    Submit(client, sent);
                }
                else if (roll < 88)
                {
                    await FlushAsync(random.Next(2) == 0 ? MessagingHost.G1 : MessagingHost.G2);
                }
                else if (roll < 94)
                {
                    Interlocked.Exchange(ref failNext, 1);
                }
                else
                {
                    ReadAnswers();
                    await ReconnectAsync(client);
                }
                if (random.Next(4) == 0)
                    await FlushAsync(client.Gateway);
            }
            await FlushAsync(MessagingHost.G1);
            await FlushAsync(MessagingHost.G2);
        }

        // Until every message is answered: a client whose connection was closed, or whose answers do not come, reconnects and resends.
        async Task AnswerAllAsync()
        {
            for (var round = 0; round < 8; round++)
            {
                try
                {
                    await host.Pushes.WaitForAsync(_ =>
                    {
                        ReadAnswers();
                        return clients.All(c => c.Closed || !c.Unanswered.Any());
                    }, TimeSpan.FromSeconds(10));
                }
                catch (Xunit.Sdk.FailException)
                {
                    // Some answers did not come: those clients resend on a new connection.
                }
                ReadAnswers();
                var waiting = clients.Where(c => c.Unanswered.Any()).ToList();
                if (waiting.Count == 0)
                    break;
                foreach (var client in waiting)
                    await ReconnectAsync(client);
            }
        }

        // Two rounds: the first sends into empty conversations (nothing is acked yet, so its receipts are rare); once its
        // messages are answered, the second sends receipts for them between more chat.
        await RunAsync(Operations, receiptShare: 0);
        await AnswerAllAsync();
        await RunAsync(Operations / 2, receiptShare: 35);
        // Every receipt is queued for the writer (consumed), then one more message goes behind them: once it is answered,
        // the receipts are committed too, and the streams checked below stand still.
        if (receipts > 0)
            await host.Consumed.WaitAsync<RecordReceipts>(_ => host.Consumed.Count<RecordReceipts>() >= receipts);
        var last = clients[0];
        var barrier = new Sent($"s{seed}-{last.User}-{last.Sent.Count}", last.User, users[1], Kind.Friend, order++);
        last.Sent.Add(barrier);
        Submit(last, barrier);
        await FlushAsync(last.Gateway);

        await AnswerAllAsync();

        ReadAnswers();
        var all = clients.SelectMany(c => c.Sent).ToList();
        var unanswered = clients.SelectMany(c => c.Unanswered).Select(s => s.ClientMsgId).ToList();
        Assert.True(unanswered.Count == 0, $"seed {seed}: no answer for {string.Join(", ", unanswered.Take(10))}");

        var stored = await host.DbAsync(db => db.Messages.AsNoTracking().Where(m => users.Contains(m.SenderId)).ToListAsync());
        var storedByKey = stored.ToDictionary(m => m.ClientMsgId);
        // Each conversation: seqs 1..n without gaps or repeats.
        foreach (var conversation in stored.GroupBy(m => m.ConversationId))
            Assert.Equal(Enumerable.Range(1, conversation.Count()).Select(i => (long)i), conversation.Select(m => m.ConversationSeq).Order());
        foreach (var client in clients)
        {
            foreach (var sent in client.Sent)
            {
                if (sent.Kind == Kind.Stranger)
                {
                    Assert.True(client.Refused.ContainsKey(sent.ClientMsgId), $"seed {seed}: {sent.ClientMsgId} to a stranger was not refused");
                    Assert.False(storedByKey.ContainsKey(sent.ClientMsgId), $"seed {seed}: {sent.ClientMsgId} to a stranger was stored");
                    continue;
                }
                Assert.True(client.Acks.TryGetValue(sent.ClientMsgId, out var ack),
                    $"seed {seed}: {sent.ClientMsgId} ({sent.Kind}) was refused: {client.Refused.GetValueOrDefault(sent.ClientMsgId)}");
                var row = storedByKey[sent.ClientMsgId];
                Assert.Equal((row.Id, (ulong)row.ConversationSeq, sent.Conversation), (ack!.Id, ack.ConversationSeq, row.ConversationId));
            }
            // The sender's order: within each conversation, its messages' seqs grow with the order it sent them.
            foreach (var conversation in client.Sent.Where(s => s.Kind != Kind.Stranger).GroupBy(s => s.Conversation))
            {
                var seqs = conversation.OrderBy(s => s.Order).Select(s => storedByKey[s.ClientMsgId].ConversationSeq).ToList();
                Assert.True(seqs.SequenceEqual(seqs.Order()), $"seed {seed}: {client.User} in {conversation.Key} stored out of send order: {string.Join(",", seqs)}");
            }
        }
        // Every stored message reached each of its recipients.
        var pushed = host.Pushes.Snapshot().Where(p => p.Push.OnlyConnectionId is null && p.Push.Message.Id != 0)
            .Select(p => (p.Push.UserId, p.Push.Message.Id)).ToHashSet();
        foreach (var row in stored)
        {
            var recipients = row.ChatType == 1 ? users.Where(u => u != row.SenderId) : [row.ToId];
            foreach (var recipient in recipients)
                Assert.True(pushed.Contains((recipient, row.Id)), $"seed {seed}: message {row.ClientMsgId} never pushed to {recipient}");
        }
        await AssertStreamsAsync(host, seed, users, stored, random);
        Assert.True(all.Count > 150, $"seed {seed}: only {all.Count} messages sent");
        Assert.True(receipts > 0, $"seed {seed}: no receipt sent");
        Assert.True(await host.DbAsync(db => db.StreamEvents.CountAsync()) > 0, $"seed {seed}: no receipt moved a cursor");
        host.AssertNoFaults();
    }

    /// <summary>
    /// The update streams after the run, per user: positions 1..head each hold exactly one update, a stored message of
    /// the user's conversations or a receipt on the user's messages, and every such message has exactly one position;
    /// in each conversation positions follow seqs; every position a push carried names the update the stream holds
    /// there; and a sync after a random position brings exactly the messages at later positions (a client's view after
    /// fetching equals the stored stream).
    /// </summary>
    private static async Task AssertStreamsAsync(MessagingHost host, int seed, long[] users, List<Message> stored, Random random)
    {
        var byId = stored.ToDictionary(m => m.Id);
        var pushedPositions = host.Pushes.Snapshot()
            .Where(p => p.Push.Positions is [> 0] && p.Push.Message.Id != 0)
            .Select(p => (p.Push.UserId, Position: p.Push.Positions![0], p.Push.Message.Id))
            .Distinct()
            .ToList();
        var receiptPushes = host.Pushes.Snapshot()
            .Where(p => p.Push.Message.Event is ReceiptEvent { Position: > 0 })
            .Select(p => (p.Push.UserId, Receipt: (ReceiptEvent)p.Push.Message.Event!))
            .Distinct()
            .ToList();
        foreach (var user in users)
        {
            var head = await host.DbAsync(db => db.StreamHeads.AsNoTracking().Where(h => h.UserId == user).Select(h => h.Position).FirstOrDefaultAsync());
            var entries = await host.DbAsync(db => db.StreamEntries.AsNoTracking().Where(e => e.UserId == user).OrderBy(e => e.Position).ToListAsync());
            var stream = new Dictionary<long, (string Conversation, long Seq)>();
            foreach (var e in entries)
                for (var seq = e.SeqFrom; seq <= e.SeqTo; seq++)
                    Assert.True(stream.TryAdd(e.Position + (seq - e.SeqFrom), (e.ConversationId, seq)), $"seed {seed}: user {user} has position {e.Position + (seq - e.SeqFrom)} twice");
            var events = await host.DbAsync(db => db.StreamEvents.AsNoTracking().Where(e => e.UserId == user).ToListAsync());
            foreach (var e in events)
            {
                var receipt = Assert.IsType<ReceiptEvent>(ClientEventJson.TryDeserialize(e.Content));
                Assert.True(receipt.Position == e.Position && receipt.UserId != user && e.FromUserId == receipt.UserId,
                    $"seed {seed}: user {user}'s event at {e.Position} is {e.Content}");
                Assert.False(stream.ContainsKey(e.Position), $"seed {seed}: user {user}'s position {e.Position} holds a message and a receipt");
            }
            var positions = stream.Keys.Concat(events.Select(e => e.Position)).Order();
            Assert.True(positions.SequenceEqual(Enumerable.Range(1, (int)head).Select(i => (long)i)), $"seed {seed}: user {user}'s positions are not 1..{head}");
            // Every receipt pushed with a position names the one the stream holds there.
            var eventAt = events.ToDictionary(e => e.Position);
            foreach (var pushed in receiptPushes.Where(r => r.UserId == user))
                Assert.True(eventAt.TryGetValue(pushed.Receipt.Position, out var held) && ClientEventJson.TryDeserialize(held.Content) is ReceiptEvent kept
                    && kept with { UserIds = null } == pushed.Receipt with { UserIds = null } && (kept.UserIds ?? []).SequenceEqual(pushed.Receipt.UserIds ?? []),
                    $"seed {seed}: a push gave user {user} position {pushed.Receipt.Position} for {pushed.Receipt}");
            var mine = stored.Where(m => m.ChatType == 1 || m.SenderId == user || m.ToId == user).Select(m => (m.ConversationId, m.ConversationSeq)).Order().ToList();
            Assert.True(mine.SequenceEqual(stream.Values.Order()), $"seed {seed}: user {user}'s stream does not hold each of its messages once");
            foreach (var conversation in stream.GroupBy(p => p.Value.Conversation))
            {
                var seqs = conversation.OrderBy(p => p.Key).Select(p => p.Value.Seq).ToList();
                Assert.True(seqs.SequenceEqual(seqs.Order()), $"seed {seed}: user {user}'s positions in {conversation.Key} do not follow its seqs");
            }
            foreach (var (_, position, id) in pushedPositions.Where(p => p.UserId == user))
            {
                var m = byId[id];
                Assert.True(stream.GetValueOrDefault(position) == (m.ConversationId, m.ConversationSeq),
                    $"seed {seed}: a push gave user {user} position {position} for {m.ClientMsgId}, the stream holds {stream.GetValueOrDefault(position)} there");
            }
            var after = random.Next(0, (int)head + 1);
            var page = (await host.Harness.Bus.CreateRequestClient<SyncConversations>()
                .GetResponse<SyncPage>(new SyncConversations(user, $"prop-{user}", null, After: after))).Message;
            var synced = page.Pushes.Where(p => p.Message.Id != 0).Select(p => (p.Message.ConversationId!, (long)p.Message.ConversationSeq)).Order().ToList();
            var expected = stream.Where(p => p.Key > after).Select(p => p.Value).Order().ToList();
            Assert.True(page.Resume is null, $"seed {seed}: the sync took more than a page");
            Assert.True(expected.SequenceEqual(synced), $"seed {seed}: a sync of user {user} after {after} brought {synced.Count} messages, the stream holds {expected.Count} after it");
        }
    }
}
