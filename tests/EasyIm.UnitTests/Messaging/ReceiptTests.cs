using System.Text.Json;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Consumers;
using EasyIm.Messaging.Data;
using MassTransit;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.UnitTests.Messaging;

public sealed class ReceiptTests
{
    private static async Task<(MessagingHost Host, long A, long B, string Conversation)> ChatAsync(int messages)
    {
        var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        var ids = Enumerable.Range(1, messages).Select(i => $"r-{i}").ToArray();
        await host.SubmitAsync(ids.Select(id => MessagingHost.Chat(a, b, id)).ToArray());
        var acks = await host.AnswersAsync(a, ids);
        return (host, a, b, acks[0].ConversationId!);
    }

    private static async Task RecordAsync(MessagingHost host, params Receipt[] receipts)
    {
        var message = new RecordReceipts(receipts);
        await host.Harness.Bus.Publish(message);
        await host.WaitConsumedAsync<RecordReceipts>(m => ReferenceEquals(m, message) || m.Receipts.SequenceEqual(receipts));
    }

    /// <summary>Each message's status as history shows it, oldest first (as the user sees it; the state is the same for both).</summary>
    private static async Task<List<int>> StatusesAsync(MessagingHost host, long user, string conversation)
    {
        var page = await host.Harness.GetRequestClient<GetHistory>().GetResponse<HistoryPage>(new GetHistory(user, conversation, null, 50));
        return page.Message.Items.OrderBy(m => m.ConversationSeq).Select(m => m.Status).ToList();
    }

    private static async Task<ConversationCursor?> CursorAsync(MessagingHost host, long user, string conversation) =>
        await host.DbAsync(db => db.Cursors.AsNoTracking().SingleOrDefaultAsync(k => k.UserId == user && k.ConversationId == conversation));

    private static IEnumerable<JsonElement> ReceiptEvents(MessagingHost host, long to, string key) =>
        host.Pushes.Snapshot()
            .Where(p => p.Gateway == MessagingHost.G1 && p.Push.UserId == to && p.Push.Message.MsgType == 4)
            .Select(p => JsonDocument.Parse(p.Push.Message.Text()).RootElement)
            .Where(e => e.GetProperty("data").GetProperty("key").GetString() == key);

    [Fact]
    public async Task Read_moves_both_cursors_shows_the_peers_messages_read_and_tells_the_sender()
    {
        var (host, a, b, conversation) = await ChatAsync(5);
        await using var _ = host;

        await RecordAsync(host, new Receipt(b, conversation, 3, MessageStatus.Read));

        var cursor = await CursorAsync(host, b, conversation);
        Assert.Equal((3L, 3L), (cursor!.ArrivedSeq, cursor.ReadSeq));
        Assert.Equal([3, 3, 3, 1, 1], await StatusesAsync(host, a, conversation));
        Assert.Equal([3, 3, 3, 1, 1], await StatusesAsync(host, b, conversation));
        await host.Pushes.WaitForAsync(_ => ReceiptEvents(host, a, "READ").Any());
        var read = ReceiptEvents(host, a, "READ").Single();
        // Receipts are updates of the sender's stream: a's five messages took positions 1-5, ARRIVED 6, READ 7.
        Assert.Equal(
            $$$"""{"code":200,"msg":"SUCCESS","data":{"key":"READ","conversation_id":"{{{conversation}}}","seq":3,"user_id":"{{{b}}}","position":7}}""",
            JsonSerializer.Serialize(read));
        var envelope = host.Pushes.Snapshot().First(p => p.Push.UserId == a && p.Push.Message.MsgType == 4 && p.Push.Message.Text().Contains("READ")).Push.Message;
        Assert.Equal((b, a, MessageStatus.Read), (envelope.FromUserId, envelope.ToUserId, envelope.Status));
        // READ implies ARRIVED: the sender hears both.
        Assert.Equal(3, ReceiptEvents(host, a, "ARRIVED").Single().GetProperty("data").GetProperty("seq").GetInt64());
        Assert.Equal(6, ReceiptEvents(host, a, "ARRIVED").Single().GetProperty("data").GetProperty("position").GetInt64());
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_receipt_never_moves_a_cursor_backwards_and_a_repeat_tells_nobody()
    {
        var (host, a, b, conversation) = await ChatAsync(5);
        await using var _ = host;
        await RecordAsync(host, new Receipt(b, conversation, 4, MessageStatus.Arrived), new Receipt(b, conversation, 2, MessageStatus.Read));
        await host.Pushes.WaitForAsync(_ => ReceiptEvents(host, a, "ARRIVED").Any() && ReceiptEvents(host, a, "READ").Any());

        await RecordAsync(host, new Receipt(b, conversation, 1, MessageStatus.Arrived), new Receipt(b, conversation, 1, MessageStatus.Read));
        await RecordAsync(host, new Receipt(b, conversation, 4, MessageStatus.Arrived));
        var cursorAfterStale = await CursorAsync(host, b, conversation);
        await RecordAsync(host, new Receipt(b, conversation, 5, MessageStatus.Arrived));
        await host.Pushes.WaitForAsync(_ => ReceiptEvents(host, a, "ARRIVED").Count() >= 2);

        Assert.Equal((4L, 2L), (cursorAfterStale!.ArrivedSeq, cursorAfterStale.ReadSeq));
        var cursor = await CursorAsync(host, b, conversation);
        Assert.Equal((5L, 2L), (cursor!.ArrivedSeq, cursor.ReadSeq));
        Assert.Equal([4L, 5L], ReceiptEvents(host, a, "ARRIVED").Select(e => e.GetProperty("data").GetProperty("seq").GetInt64()));
        Assert.Single(ReceiptEvents(host, a, "READ"));
        Assert.Equal([3, 3, 2, 2, 2], await StatusesAsync(host, a, conversation));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_receipt_past_the_last_message_is_clamped_and_one_for_a_conversation_of_others_is_ignored()
    {
        var (host, a, b, conversation) = await ChatAsync(2);
        await using var _ = host;
        var stranger = MessagingHost.NewUserId();

        await RecordAsync(host,
            new Receipt(b, conversation, 1000, MessageStatus.Read),
            new Receipt(stranger, conversation, 2, MessageStatus.Read),
            new Receipt(b, "not-a-conversation", 2, MessageStatus.Read),
            new Receipt(b, conversation, 1, 7));

        var cursor = await CursorAsync(host, b, conversation);
        Assert.Equal((2L, 2L), (cursor!.ArrivedSeq, cursor.ReadSeq));
        Assert.Null(await CursorAsync(host, stranger, conversation));
        await host.Pushes.WaitForAsync(_ => ReceiptEvents(host, a, "READ").Any());
        Assert.Equal(2, ReceiptEvents(host, a, "READ").Single().GetProperty("data").GetProperty("seq").GetInt64());
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_group_receipt_moves_only_the_members_cursor_and_tells_the_senders_it_covers()
    {
        await using var host = await MessagingHost.StartAsync();
        var group = MessagingHost.NewUserId();
        var (s1, s2, reader) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        foreach (var member in new[] { s1, s2, reader })
            await host.JoinGroupAsync(group, member);
        await host.SubmitAsync(MessagingHost.Chat(s1, group, "gr-1", chatType: 1), MessagingHost.Chat(s2, group, "gr-2", chatType: 1));
        await host.AnswersAsync(s1, "gr-1");
        await host.AnswersAsync(s2, "gr-2");

        await RecordAsync(host, new Receipt(reader, $"g_{group}", 2, MessageStatus.Read));

        var cursor = await CursorAsync(host, reader, $"g_{group}");
        Assert.Equal((2L, 2L), (cursor!.ArrivedSeq, cursor.ReadSeq));
        Assert.All(await StatusesAsync(host, s1, $"g_{group}"), status => Assert.Equal(MessageStatus.Sent, status));
        await host.Pushes.WaitForAsync(_ => ReceiptEvents(host, s1, "READ").Any() && ReceiptEvents(host, s2, "READ").Any());
        Assert.Empty(ReceiptEvents(host, reader, "READ"));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Group_receipts_read_together_tell_each_sender_once_of_exactly_the_readers_their_own_range_covers()
    {
        await using var host = await MessagingHost.StartAsync();
        var group = MessagingHost.NewUserId();
        var (s1, s2, r1, r2, r3) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        foreach (var member in new[] { s1, s2, r1, r2, r3 })
            await host.JoinGroupAsync(group, member);
        var conversation = $"g_{group}";
        // seq 1 from s1, seq 2 from s2, seq 3 from s1.
        await host.SubmitAsync(MessagingHost.Chat(s1, group, "gt-1", chatType: 1));
        await host.AnswersAsync(s1, "gt-1");
        await host.SubmitAsync(MessagingHost.Chat(s2, group, "gt-2", chatType: 1));
        await host.AnswersAsync(s2, "gt-2");
        await host.SubmitAsync(MessagingHost.Chat(s1, group, "gt-3", chatType: 1));
        await host.AnswersAsync(s1, "gt-3");
        await RecordAsync(host, new Receipt(r3, conversation, 2, MessageStatus.Arrived));
        await host.Pushes.WaitForAsync(_ => ReceiptEvents(host, s2, "ARRIVED").Any(e => Data(e, "user_id") == r3));

        // One batch: ranges (0,1], (0,2] read, (2,3], and s2's own (0,3].
        await RecordAsync(host,
            new Receipt(r1, conversation, 1, MessageStatus.Arrived),
            new Receipt(r2, conversation, 2, MessageStatus.Read),
            new Receipt(r3, conversation, 3, MessageStatus.Arrived),
            new Receipt(s2, conversation, 3, MessageStatus.Arrived));

        await host.Pushes.WaitForAsync(_ => ReceiptEvents(host, s1, "ARRIVED").Count() >= 2 && ReceiptEvents(host, s2, "READ").Any());
        // s1 is told of the batch once: the highest seq (3, r3's and s2's; the reader named is the higher id), and every
        // reader it covers in user_ids. The single receipt before it named one reader and no user_ids.
        var arrivedAtS1 = ReceiptEvents(host, s1, "ARRIVED").ToList();
        Assert.Equal([(r3, 2L), (r3, 3L)], arrivedAtS1.Select(e => (Data(e, "user_id"), Data(e, "seq"))));
        Assert.False(arrivedAtS1[0].GetProperty("data").TryGetProperty("user_ids", out _));
        Assert.Equal(new[] { s2, r1, r2, r3 }.Order(), arrivedAtS1[1].GetProperty("data").GetProperty("user_ids").EnumerateArray().Select(u => long.Parse(u.GetString()!)));
        Assert.Equal([(r2, 2L)], ReceiptEvents(host, s1, "READ").Select(e => (Data(e, "user_id"), Data(e, "seq"))).ToList());
        // s2 sent only seq 2: r1's (0,1] and r3's (2,3] do not cover it, and its own receipt tells it nothing.
        Assert.Equal([(r2, 2L), (r3, 2L)],
            ReceiptEvents(host, s2, "ARRIVED").Select(e => (Data(e, "user_id"), Data(e, "seq"))).Order().ToList());
        Assert.Equal([(r2, 2L)], ReceiptEvents(host, s2, "READ").Select(e => (Data(e, "user_id"), Data(e, "seq"))).ToList());
        host.AssertNoFaults();
    }

    /// <summary>A number of the event's data (user ids travel as strings, seqs as numbers).</summary>
    private static long Data(JsonElement e, string name) => e.GetProperty("data").GetProperty(name) is { ValueKind: JsonValueKind.String } text
        ? long.Parse(text.GetString()!)
        : e.GetProperty("data").GetProperty(name).GetInt64();
}
