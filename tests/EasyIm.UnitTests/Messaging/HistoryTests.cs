using EasyIm.Contracts;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Consumers;
using EasyIm.Messaging.Data;
using MassTransit;
using MassTransit.Testing;

namespace EasyIm.UnitTests.Messaging;

public sealed class HistoryTests
{
    private static async Task<(bool Ok, HistoryPage? Page, RequestRejected? Rejected)> HistoryAsync(MessagingHost host, GetHistory request)
    {
        var response = await host.Harness.GetRequestClient<GetHistory>().GetResponse<HistoryPage, RequestRejected>(request);
        return response.Is(out Response<HistoryPage>? page) ? (true, page.Message, null)
            : response.Is(out Response<RequestRejected>? rejected) ? (false, null, rejected.Message)
            : throw new InvalidOperationException("unexpected reply");
    }

    [Fact]
    public async Task History_is_newest_first_pages_by_before_seq_and_reports_the_total()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        var ids = Enumerable.Range(1, 7).Select(i => $"h-{i}").ToArray();
        await host.SubmitAsync(ids.Select(id => MessagingHost.Chat(a, b, id, id)).ToArray());
        var conversation = (await host.AnswersAsync(a, ids))[0].ConversationId!;

        var newest = await HistoryAsync(host, new GetHistory(b, conversation, null, 3));
        var older = await HistoryAsync(host, new GetHistory(a, conversation, 5, 3));
        var oldest = await HistoryAsync(host, new GetHistory(a, conversation, 2, 50));

        Assert.Equal(7UL, newest.Page!.Total);
        Assert.Equal(["h-7", "h-6", "h-5"], newest.Page.Items.Select(m => m.Content));
        Assert.Equal([4UL, 3UL, 2UL], older.Page!.Items.Select(m => m.ConversationSeq));
        Assert.Equal(["h-1"], oldest.Page!.Items.Select(m => m.ClientMsgId));
        var first = oldest.Page.Items[0];
        Assert.Equal((a, b, conversation, MessageStatus.Sent), (first.FromUserId, first.ToUserId, first.ConversationId, first.Status));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Only_participants_may_read_history()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b, stranger, group) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.JoinGroupAsync(group, a);

        var single = await HistoryAsync(host, new GetHistory(stranger, ConversationId.ForPair(a, b).ToString(), null, 10));
        var groupOutsider = await HistoryAsync(host, new GetHistory(stranger, $"g_{group}", null, 10));
        var groupMember = await HistoryAsync(host, new GetHistory(a, $"g_{group}", null, 10));
        var emptyButMine = await HistoryAsync(host, new GetHistory(a, ConversationId.ForPair(a, b).ToString(), null, 10));

        Assert.Equal(403, single.Rejected!.Code);
        Assert.Equal(403, groupOutsider.Rejected!.Code);
        Assert.Equal((0UL, 0), (groupMember.Page!.Total, groupMember.Page.Items.Count));
        Assert.True(emptyButMine.Ok);
        host.AssertNoFaults();
    }

    [Theory]
    [InlineData("s_2_1", null, 10, "conversation_id")]
    [InlineData("s_1_1", null, 10, "conversation_id")]
    [InlineData("s_01_2", null, 10, "conversation_id")]
    [InlineData("g_0", null, 10, "conversation_id")]
    [InlineData("x_1", null, 10, "conversation_id")]
    [InlineData("", null, 10, "conversation_id")]
    [InlineData("s_1_2", null, 0, "limit")]
    [InlineData("s_1_2", null, 201, "limit")]
    [InlineData("s_1_2", 0UL, 10, "before_seq")]
    public async Task Bad_history_requests_are_refused_naming_the_field(string conversation, ulong? beforeSeq, int limit, string field)
    {
        await using var host = await MessagingHost.StartAsync();

        var reply = await HistoryAsync(host, new GetHistory(1, conversation, beforeSeq, limit));

        Assert.Equal((400, field), (reply.Rejected!.Code, reply.Rejected.Field));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Conversations_list_the_last_message_and_the_unread_count_most_recent_first()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b, group) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.JoinGroupAsync(group, a);
        await host.JoinGroupAsync(group, b);
        await host.SubmitAsync(MessagingHost.Chat(a, group, "l-g", "group first", chatType: 1));
        await host.AnswersAsync(a, "l-g");
        // A later batch: the one-to-one conversation is the most recent.
        await host.SubmitAsync(MessagingHost.Chat(a, b, "l-1", "one"), MessagingHost.Chat(a, b, "l-2", "two"), MessagingHost.Chat(a, b, "l-3", "three"));
        var conversation = (await host.AnswersAsync(a, "l-3")).Single().ConversationId!;
        var receipts = new RecordReceipts([new Receipt(b, conversation, 1, MessageStatus.Read)]);
        await host.Harness.Bus.Publish(receipts);
        await host.WaitConsumedAsync<RecordReceipts>();

        var forB = (await host.Harness.GetRequestClient<ListConversations>().GetResponse<ConversationList>(new ListConversations(b))).Message.Items;
        var forA = (await host.Harness.GetRequestClient<ListConversations>().GetResponse<ConversationList>(new ListConversations(a))).Message.Items;
        var nobody = (await host.Harness.GetRequestClient<ListConversations>().GetResponse<ConversationList>(new ListConversations(MessagingHost.NewUserId()))).Message.Items;

        Assert.Equal([conversation, $"g_{group}"], forB.Select(c => c.ConversationId));
        Assert.Equal((0, a, 2UL, "three"), (forB[0].ChatType, forB[0].PeerId, forB[0].Unread, forB[0].LastMessage!.Content));
        Assert.Equal((1, group, 1UL, "group first"), (forB[1].ChatType, forB[1].PeerId, forB[1].Unread, forB[1].LastMessage!.Content));
        // What you sent, you have read.
        Assert.All(forA, c => Assert.Equal(0UL, c.Unread));
        Assert.Equal(b, forA.Single(c => c.ChatType == 0).PeerId);
        Assert.Empty(nobody);
        host.AssertNoFaults();
    }
}
