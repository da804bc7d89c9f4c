using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Sending;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Messaging;

/// <summary>
/// The send path against a store that refuses some rows for their data (a trigger here; NUL text on
/// PostgreSQL, a value out of range, a check): those messages alone are answered FAIL, at once, and every
/// other message of the same group is stored, numbered in its senders' order, and acked.
/// </summary>
public sealed class BadRowIsolationTests
{
    private const string RefusePoison =
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON messages WHEN NEW.content LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END;";

    [Fact]
    public async Task Rows_the_database_refuses_fail_alone_and_the_rest_of_their_group_is_stored_in_order()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:RequireFriendship"] = "false" });
        await host.DbAsync(db => db.Database.ExecuteSqlRawAsync(RefusePoison));
        var (attacker, friend, bystander, peer) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());

        // One batch, so one group: the bystander's messages share its transaction with the poison.
        var batch = new List<ChatSubmission>();
        for (var i = 0; i < 20; i++)
        {
            batch.Add(MessagingHost.Chat(bystander, peer, $"b-{i}", $"b:{i}"));
            batch.Add(MessagingHost.Chat(attacker, friend, $"a-{i}", i % 7 == 3 ? $"poison {i}" : $"a:{i}"));
        }
        await host.SubmitAsync([.. batch]);

        var bystanderAnswers = await host.AnswersAsync(bystander, [.. Enumerable.Range(0, 20).Select(i => $"b-{i}")]);
        var attackerAnswers = await host.AnswersAsync(attacker, [.. Enumerable.Range(0, 20).Select(i => $"a-{i}")]);

        Assert.All(bystanderAnswers, a => Assert.Equal(MessageStatus.Sent, a.Status));
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (ulong)i), bystanderAnswers.Select(a => a.ConversationSeq));
        var poisoned = Enumerable.Range(0, 20).Where(i => i % 7 == 3).ToHashSet();
        for (var i = 0; i < 20; i++)
        {
            var answer = attackerAnswers[i];
            if (poisoned.Contains(i))
            {
                Assert.Equal(MessageStatus.Fail, answer.Status);
                Assert.Contains("refused", answer.Error);
            }
            else
            {
                Assert.True(MessageStatus.Sent == answer.Status, $"a-{i}: {answer.Status} {answer.Error}");
            }
        }
        // The attacker's good messages keep their send order, gap-free.
        Assert.Equal(Enumerable.Range(1, 20 - poisoned.Count).Select(i => (ulong)i),
            attackerAnswers.Where(a => a.Status == MessageStatus.Sent).Select(a => a.ConversationSeq));
        var stored = await host.DbAsync(db => db.Messages.AsNoTracking().CountAsync(m => m.SenderId == attacker || m.SenderId == bystander));
        Assert.Equal(40 - poisoned.Count, stored);
        // A refused row is handled, not lost: the connection's next message follows it in the chain.
        await host.SubmitAsync(MessagingHost.Chat(attacker, friend, "a-last", "poison again") with { PreviousClientMsgId = "a-19" });
        await host.SubmitAsync(MessagingHost.Chat(attacker, friend, "a-next", "after the poison") with { PreviousClientMsgId = "a-last" });
        var last = await host.AnswersAsync(attacker, "a-last", "a-next");
        Assert.Equal([MessageStatus.Fail, MessageStatus.Sent], last.Select(a => a.Status));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_refused_row_does_not_hold_up_the_groups_queued_behind_it()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?>
        {
            ["Messaging:RequireFriendship"] = "false",
            // Long: a writer that retried a refused row as if the database were down would stall for it.
            ["Messaging:StoreRetrySeconds"] = "600",
        });
        await host.DbAsync(db => db.Database.ExecuteSqlRawAsync(RefusePoison));
        var (attacker, friend, bystander, peer) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());

        await host.SubmitAsync(MessagingHost.Chat(attacker, friend, "p-1", "poison"));
        await host.SubmitFromAsync(MessagingHost.G2, MessagingHost.Chat(bystander, peer, "ok-1", "hello"));

        var answers = await host.AnswersAsync(bystander, "ok-1");
        Assert.Equal(MessageStatus.Sent, answers[0].Status);
        Assert.Equal(MessageStatus.Fail, (await host.AnswersAsync(attacker, "p-1"))[0].Status);
    }

    [Fact]
    public async Task A_database_that_stays_down_past_the_retry_time_fails_the_group_and_closes_its_connections_so_they_resend_in_order()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?>
        {
            ["Messaging:RequireFriendship"] = "false",
            ["Messaging:StoreRetrySeconds"] = "1",
        });
        var (sender, peer) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        host.Services.GetRequiredService<SendPipeline>().BeforeCommit = _ => throw new SqliteException("disk I/O error", 10, 10);

        await host.SubmitAsync(MessagingHost.Chat(sender, peer, "d-1", "one"));
        var failed = await host.Pushes.WaitForAsync(all => all.Any(p => p.Push.UserId == sender && p.Push.Message.ClientMsgId == "d-1"));
        // Presence does not know the sender here, so the push may reach both gateways: the first will do.
        var fail = failed.First(p => p.Push.UserId == sender && p.Push.Message.ClientMsgId == "d-1").Push;
        Assert.Equal(MessageStatus.Fail, fail.Message.Status);
        Assert.True(fail.Close, "the connection is closed, so that its client resends in order");

        // Its next message, already on its way, is refused too (the chain broke), even with the database back.
        host.Services.GetRequiredService<SendPipeline>().BeforeCommit = null;
        await host.SubmitAsync(MessagingHost.Chat(sender, peer, "d-2", "two") with { PreviousClientMsgId = "d-1" });
        Assert.Equal(MessageStatus.Fail, (await host.AnswersAsync(sender, "d-2"))[0].Status);
        Assert.Equal(0, await host.DbAsync(db => db.Messages.AsNoTracking().CountAsync(m => m.SenderId == sender)));
    }
}
