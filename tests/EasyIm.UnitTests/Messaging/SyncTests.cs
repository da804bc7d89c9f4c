using System.Text.Json;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Consumers;
using EasyIm.Messaging.Data;
using MassTransit;
using MassTransit.Testing;

namespace EasyIm.UnitTests.Messaging;

public sealed class SyncTests
{
    private static bool IsDone(UserPush push) =>
        push.Message.MsgType == 4 && push.Message.Text().Contains("\"SYNC\"", StringComparison.Ordinal);

    /// <summary>What one connection received at gateway g1, in order, up to and including its SYNC done.</summary>
    private static async Task<List<UserPush>> SyncedAsync(MessagingHost host, string connection)
    {
        var seen = await host.Pushes.WaitForAsync(all => all.Any(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId == connection && IsDone(p.Push)));
        return seen.Where(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId == connection).Select(p => p.Push).ToList();
    }

    [Fact]
    public async Task On_connect_the_messages_after_the_arrived_cursor_are_pushed_in_order_to_that_connection_then_done()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b, group) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.JoinGroupAsync(group, a, "owner");
        await host.JoinGroupAsync(group, b);
        var ids = Enumerable.Range(1, 5).Select(i => $"s-{i}").ToArray();
        await host.SubmitAsync([.. ids.Select(id => MessagingHost.Chat(a, b, id, id)), MessagingHost.Chat(a, group, "s-g", "to the group", chatType: 1)]);
        var acks = await host.AnswersAsync(a, [.. ids, "s-g"]);
        await host.Harness.Bus.Publish(new RecordReceipts([new Receipt(b, acks[0].ConversationId!, 2, MessageStatus.Arrived)]));
        await host.WaitConsumedAsync<RecordReceipts>();

        await host.Harness.Bus.Publish(new UserConnected(b, MessagingHost.G1, "b-phone", "phone", DateTimeOffset.UtcNow));
        var synced = await SyncedAsync(host, "b-phone");

        Assert.True(IsDone(synced[^1]));
        Assert.Equal("""{"code":200,"msg":"SUCCESS","data":{"key":"SYNC","done":true}}""", synced[^1].Message.Text());
        Assert.Equal(b, synced[^1].Message.ToUserId);
        var messages = synced[..^1].Select(p => p.Message).ToList();
        Assert.All(synced, p => Assert.Equal(b, p.UserId));
        Assert.Equal(["s-3", "s-4", "s-5"], messages.Where(m => m.ChatType == 0).Select(m => m.Content));
        Assert.Equal([3UL, 4UL, 5UL], messages.Where(m => m.ChatType == 0).Select(m => m.ConversationSeq));
        Assert.Equal(["to the group"], messages.Where(m => m.ChatType == 1).Select(m => m.Content));
        Assert.All(messages, m => Assert.True(m.Id > 0 && m.SentAt > 0 && m.ClientMsgId is not null));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_sync_with_device_cursors_starts_after_them_and_ignores_conversations_of_others()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        var (x, y) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.BefriendAsync(x, y);
        await host.SubmitAsync([.. Enumerable.Range(1, 5).Select(i => MessagingHost.Chat(a, b, $"c-{i}", $"c-{i}")), MessagingHost.Chat(x, y, "other", "not for b")]);
        var acks = await host.AnswersAsync(a, "c-1");
        var others = (await host.AnswersAsync(x, "other")).Single().ConversationId!;

        await host.Harness.Bus.Publish(new SyncConversations(b, "b-tablet", new Dictionary<string, ulong>
        {
            [acks[0].ConversationId!] = 4,
            [others] = 0,
            ["g_42"] = 0,
            ["garbage"] = 0,
        }));
        var synced = await SyncedAsync(host, "b-tablet");

        Assert.Equal(["c-5"], synced[..^1].Select(p => p.Message.Text()));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_user_with_nothing_missing_gets_only_the_done_event()
    {
        await using var host = await MessagingHost.StartAsync();
        var loner = MessagingHost.NewUserId();

        await host.Harness.Bus.Publish(new SyncConversations(loner, "l-1", null));

        Assert.True(IsDone(Assert.Single(await SyncedAsync(host, "l-1"))));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_large_sync_is_paged_in_order()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:SyncPageSize"] = "10" });
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        var ids = Enumerable.Range(1, 25).Select(i => $"p-{i}").ToArray();
        await host.SubmitAsync(ids.Select(id => MessagingHost.Chat(a, b, id, id)).ToArray());
        await host.AnswersAsync(a, ids);
        var pages = new List<int>();
        host.Pushes.Observer = (gateway, message) =>
        {
            if (gateway == MessagingHost.G1 && message.Pushes.Any(p => p.OnlyConnectionId == "b-big"))
                lock (pages)
                    pages.Add(message.Pushes.Count);
            return Task.CompletedTask;
        };

        await host.Harness.Bus.Publish(new UserConnected(b, MessagingHost.G1, "b-big", null, DateTimeOffset.UtcNow));
        var synced = await SyncedAsync(host, "b-big");

        Assert.Equal(ids, synced[..^1].Select(p => p.Message.Text()));
        lock (pages)
        {
            Assert.True(pages.Count >= 3, $"expected the sync in pages, got {pages.Count} bus messages");
            Assert.All(pages, size => Assert.InRange(size, 1, 10));
        }
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_sync_shows_how_far_the_peer_got_with_each_of_my_messages()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        var ids = Enumerable.Range(1, 4).Select(i => $"d-{i}").ToArray();
        await host.SubmitAsync(ids.Select(id => MessagingHost.Chat(a, b, id, id)).ToArray());
        var conversation = (await host.AnswersAsync(a, ids))[0].ConversationId!;
        await host.Harness.Bus.Publish(new RecordReceipts([new Receipt(b, conversation, 3, MessageStatus.Arrived), new Receipt(b, conversation, 1, MessageStatus.Read)]));
        await host.WaitConsumedAsync<RecordReceipts>();

        // A's new device asks for everything.
        await host.Harness.Bus.Publish(new SyncConversations(a, "a-tablet", new Dictionary<string, ulong> { [conversation] = 0 }));
        var synced = await SyncedAsync(host, "a-tablet");

        Assert.Equal([3, 2, 2, 1], synced[..^1].Select(p => p.Message.Status));
        host.AssertNoFaults();
    }

    private static async Task<SyncPage> PageAsync(MessagingHost host, long user, string connection, IReadOnlyDictionary<string, ulong>? cursors, SyncResume? resume)
    {
        var client = host.Harness.Bus.CreateRequestClient<SyncConversations>(RequestTimeout.After(s: 20));
        return (await client.GetResponse<SyncPage>(new SyncConversations(user, connection, cursors, Resume: resume))).Message;
    }

    [Fact]
    public async Task Asked_as_a_request_a_sync_is_answered_one_bounded_page_at_a_time_and_nothing_is_pushed()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:SyncPageSize"] = "10" });
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        var ids = Enumerable.Range(1, 25).Select(i => $"q-{i}").ToArray();
        await host.SubmitAsync(ids.Select(id => MessagingHost.Chat(a, b, id, id)).ToArray());
        var conversation = (await host.AnswersAsync(a, ids))[0].ConversationId!;

        var pages = new List<SyncPage>();
        SyncResume? resume = null;
        do
        {
            var page = await PageAsync(host, b, "b-pull", null, resume);
            pages.Add(page);
            resume = page.Resume;
        }
        while (resume is not null && pages.Count < 10);

        Assert.Equal([10, 10, 6], pages.Select(p => p.Pushes.Count));
        Assert.Equal([new SyncResume(conversation, 10), new SyncResume(conversation, 20), null], pages.Select(p => p.Resume));
        var all = pages.SelectMany(p => p.Pushes).ToList();
        Assert.Equal(ids, all[..^1].Select(p => p.Message.Text()));
        Assert.All(all, p => Assert.Equal(("b-pull", true), (p.OnlyConnectionId, p.Sync)));
        Assert.True(IsDone(all[^1]));
        Assert.Equal(25UL, all[^1].SyncedThrough![conversation]);
        Assert.DoesNotContain(host.Pushes.Snapshot(), p => p.Push.OnlyConnectionId == "b-pull");
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_page_ends_at_its_byte_bound_too_with_at_least_one_message()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:SyncPageBytes"] = "3000" });
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        var ids = Enumerable.Range(1, 3).Select(i => $"big-{i}").ToArray();
        await host.SubmitAsync(ids.Select(id => MessagingHost.Chat(a, b, id, id + new string('x', 4000))).ToArray());
        await host.AnswersAsync(a, ids);

        var first = await PageAsync(host, b, "b-big", null, null);
        var second = await PageAsync(host, b, "b-big", null, first.Resume);

        Assert.Single(first.Pushes);
        Assert.Single(second.Pushes);
        Assert.Equal(2UL, second.Resume!.AfterSeq);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_pushed_sync_stops_after_its_page_when_its_connection_is_gone()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:SyncPageSize"] = "10" });
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        var ids = Enumerable.Range(1, 25).Select(i => $"g-{i}").ToArray();
        await host.SubmitAsync(ids.Select(id => MessagingHost.Chat(a, b, id, id)).ToArray());
        await host.AnswersAsync(a, ids);
        await host.PublishAndWaitAsync(new UserConnected(b, MessagingHost.G1, "b-gone", null, DateTimeOffset.UtcNow, SyncedByGateway: true));
        await host.PublishAndWaitAsync(new UserDisconnected(b, MessagingHost.G1, "b-gone", DateTimeOffset.UtcNow));

        await host.PublishAndWaitAsync(new SyncConversations(b, "b-gone", null));

        // Its first page went out (sent before the consumer finished); nothing after it. (The connect's replay of
        // what was routed while b was away is not the sync's.)
        static bool OfSync(ReceivedPush p) => p.Push.OnlyConnectionId == "b-gone" && p.Push.Sync;
        var pushed = (await host.Pushes.WaitForAsync(all => all.Count(OfSync) >= 10)).Where(OfSync).ToList();
        // By id: a consume retried after a database hiccup pushes its first page again.
        Assert.Equal(10, pushed.Select(p => p.Push.Message.Id).Distinct().Count());
        Assert.DoesNotContain(pushed, p => IsDone(p.Push));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_gateway_that_syncs_its_connections_itself_gets_no_connect_time_push()
    {
        await using var host = await MessagingHost.StartAsync();
        var b = MessagingHost.NewUserId();

        await host.PublishAndWaitAsync(new UserConnected(b, MessagingHost.G1, "b-self", null, DateTimeOffset.UtcNow, SyncedByGateway: true));
        await host.PublishAndWaitAsync(new UserConnected(b, MessagingHost.G1, "b-old", null, DateTimeOffset.UtcNow));

        await SyncedAsync(host, "b-old");
        Assert.DoesNotContain(host.Pushes.Snapshot(), p => p.Push.OnlyConnectionId == "b-self");
        host.AssertNoFaults();
    }
}
