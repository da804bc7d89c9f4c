using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Sending;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Messaging;

/// <summary>
/// Per-sender order under failure: every sender's messages take their conversation seqs in the order
/// the sender sent them, while the writer's transactions fail and are retried, and while batches from two
/// gateways (two partitions) race into the same conversations and are grouped into shared transactions.
/// </summary>
public sealed class SendOrderTests
{
    private const int SendersPerGateway = 4;
    private const int MessagesPerSender = 40;

    [Fact]
    public async Task Each_senders_messages_are_numbered_in_send_order_while_transactions_fail_and_retry_and_two_gateways_race()
    {
        // Small transactions, so that a run is many of them, and failures fall between batches of one sender.
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?>
        {
            ["Messaging:RequireFriendship"] = "false",
            ["Messaging:MaxMessagesPerTransaction"] = "12",
        });
        var groupId = MessagingHost.NewUserId();
        var senders = new Dictionary<string, long[]>
        {
            [MessagingHost.G1] = [.. Enumerable.Range(0, SendersPerGateway).Select(_ => MessagingHost.NewUserId())],
            [MessagingHost.G2] = [.. Enumerable.Range(0, SendersPerGateway).Select(_ => MessagingHost.NewUserId())],
        };
        var everyone = senders.Values.SelectMany(s => s).ToList();
        foreach (var user in everyone)
            await host.JoinGroupAsync(groupId, user);

        // Every third transaction fails just before it commits: rolled back, and retried whole.
        var commits = 0;
        var injected = 0;
        host.Services.GetRequiredService<SendPipeline>().BeforeCommit = _ =>
        {
            if (Interlocked.Increment(ref commits) % 3 != 0)
                return Task.CompletedTask;
            Interlocked.Increment(ref injected);
            throw new SqliteException("injected failure before commit", 5);
        };

        // Each sender alternates between the group and a one-to-one peer on the other gateway. Each gateway
        // sends its batches one after the other (as its batcher does), both gateways at once, with batch
        // sizes that vary so that batches split senders' runs at different places.
        var peerOf = everyone.ToDictionary(u => u, u => everyone[(everyone.IndexOf(u) + SendersPerGateway) % everyone.Count]);
        var random = new Random(7);
        async Task GatewaySendsAsync(string gateway, long[] users, int seed)
        {
            var sizes = new Random(seed);
            var next = users.ToDictionary(u => u, _ => 0);
            while (next.Values.Any(i => i < MessagesPerSender))
            {
                var batch = new List<ChatSubmission>();
                foreach (var user in users)
                {
                    for (var k = sizes.Next(0, 6); k > 0 && next[user] < MessagesPerSender; k--, next[user]++)
                    {
                        var i = next[user];
                        batch.Add(i % 2 == 0
                            ? MessagingHost.Chat(user, groupId, $"o-{user}-{i}", $"{user}:{i}", chatType: 1)
                            : MessagingHost.Chat(user, peerOf[user], $"o-{user}-{i}", $"{user}:{i}"));
                    }
                }
                if (batch.Count > 0)
                    await host.SubmitFromAsync(gateway, [.. batch]);
            }
        }
        await Task.WhenAll(GatewaySendsAsync(MessagingHost.G1, senders[MessagingHost.G1], random.Next()),
            GatewaySendsAsync(MessagingHost.G2, senders[MessagingHost.G2], random.Next()));

        var total = everyone.Count * MessagesPerSender;
        await host.Pushes.WaitForAsync(all => all
            .Where(p => p.Push.OnlyConnectionId is { } c && c == $"c{p.Push.UserId}" && p.Push.Message.Status == MessageStatus.Sent)
            .Select(p => p.Push.Message.ClientMsgId).Distinct().Count() >= total, TimeSpan.FromSeconds(60));

        var rows = await host.DbAsync(db => db.Messages.AsNoTracking().Where(m => m.ClientMsgId.StartsWith("o-")).ToListAsync());
        Assert.Equal(total, rows.Count);
        Assert.True(Volatile.Read(ref injected) >= 3, $"only {injected} failures were injected in {commits} commits");
        foreach (var conversation in rows.GroupBy(r => r.ConversationId))
        {
            // Gap-free, each seq once.
            Assert.Equal(Enumerable.Range(1, conversation.Count()).Select(i => (long)i), conversation.Select(r => r.ConversationSeq).Order());
            // Each sender's messages in their send order.
            foreach (var mine in conversation.GroupBy(r => r.SenderId))
            {
                var sent = mine.OrderBy(r => r.ConversationSeq).Select(r => int.Parse(r.Content.Split(':')[1])).ToList();
                Assert.Equal(sent.Order(), sent);
            }
        }
        host.AssertNoFaults();
    }
}
