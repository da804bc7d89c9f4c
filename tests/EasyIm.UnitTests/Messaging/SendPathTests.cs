using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.UnitTests.Messaging;

public sealed class SendPathTests
{
    [Fact]
    public async Task A_message_between_friends_is_acked_with_its_stored_identity_and_delivered_to_the_peer()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);

        await host.SubmitAsync(MessagingHost.Chat(a, b, "m-1", "hello", seq: 7));

        var ack = (await host.AnswersAsync(a, "m-1")).Single();
        Assert.Equal(MessageStatus.Sent, ack.Status);
        Assert.True(ack.Id > 0);
        Assert.Equal((uint)7, ack.Seq);
        Assert.Equal($"s_{Math.Min(a, b)}_{Math.Max(a, b)}", ack.ConversationId);
        Assert.Equal(1UL, ack.ConversationSeq);
        Assert.True(ack.SentAt > 0);
        Assert.Equal("hello", ack.Content);
        Assert.Null(ack.Error);
        var delivered = await host.Pushes.WaitForAsync(all => all.Any(p => p.Push.UserId == b && p.Push.Message.Id == ack.Id));
        var copy = delivered.First(p => p.Push.UserId == b && p.Push.Message.Id == ack.Id).Push;
        Assert.Null(copy.OnlyConnectionId);
        Assert.Equal((a, b, "m-1", 1UL), (copy.Message.FromUserId, copy.Message.ToUserId, copy.Message.ClientMsgId, copy.Message.ConversationSeq));
        // The sender's other devices get the message too, but not the connection that sent it.
        Assert.Contains(delivered, p => p.Push.UserId == a && p.Push.SkipConnectionId == $"c{a}" && p.Push.Message.Id == ack.Id);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_resent_client_msg_id_returns_the_original_id_and_seq_and_stores_one_row()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.SubmitAsync(MessagingHost.Chat(a, b, "dup", "first", seq: 1));
        var original = (await host.AnswersAsync(a, "dup")).Single();

        // A resend in a later batch, with other content and another client seq, and twice in one batch.
        await host.SubmitAsync(MessagingHost.Chat(a, b, "dup", "changed", seq: 2));
        var resent = await host.Pushes.WaitForAsync(all => all.Any(p => p.Push.OnlyConnectionId == $"c{a}" && p.Push.Message.ClientMsgId == "dup" && p.Push.Message.Seq == 2));
        await host.SubmitAsync(MessagingHost.Chat(a, b, "twin", "x", seq: 3), MessagingHost.Chat(a, b, "twin", "y", seq: 4));
        await host.Pushes.WaitForAsync(all => all.Count(p => p.Push.OnlyConnectionId == $"c{a}" && p.Push.Message.ClientMsgId == "twin" && p.Gateway == MessagingHost.G1) >= 2);

        var again = resent.Last(p => p.Push.OnlyConnectionId == $"c{a}" && p.Push.Message.ClientMsgId == "dup" && p.Push.Message.Seq == 2).Push.Message;
        Assert.Equal((original.Id, original.ConversationSeq, original.SentAt, "first"), (again.Id, again.ConversationSeq, again.SentAt, again.Content));
        var twins = host.Pushes.Snapshot().Where(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId == $"c{a}" && p.Push.Message.ClientMsgId == "twin")
            .Select(p => p.Push.Message).ToList();
        Assert.Single(twins.Select(m => (m.Id, m.ConversationSeq)).Distinct());
        Assert.Equal([3u, 4u], twins.Select(m => m.Seq).Order());
        var rows = await host.DbAsync(db => db.Messages.Where(m => m.SenderId == a).OrderBy(m => m.ConversationSeq).ToListAsync());
        Assert.Equal(["dup", "twin"], rows.Select(r => r.ClientMsgId));
        Assert.Equal([1L, 2L], rows.Select(r => r.ConversationSeq));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Seqs_are_gap_free_and_in_arrival_order_for_100_messages_in_one_batch()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        var ids = Enumerable.Range(0, 100).Select(i => $"one-{i}").ToArray();

        await host.SubmitAsync(ids.Select((id, i) => MessagingHost.Chat(i % 2 == 0 ? a : b, i % 2 == 0 ? b : a, id, $"#{i}")).ToArray());

        await host.Pushes.WaitForAsync(all => all.Count(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId is not null && p.Push.Message.Status == 1) >= 100);
        var rows = await host.DbAsync(db => db.Messages.Where(m => ids.Contains(m.ClientMsgId)).OrderBy(m => m.ConversationSeq).ToListAsync());
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), rows.Select(r => r.ConversationSeq));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"#{i}"), rows.Select(r => r.Content));
        Assert.Equal(100, rows.Select(r => r.Id).Distinct().Count());
        var conversation = await host.DbAsync(db => db.Conversations.SingleAsync(c => c.Id == rows[0].ConversationId));
        Assert.Equal((100L, rows[^1].Id), (conversation.LastSeq, conversation.LastMessageId));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Seqs_are_gap_free_and_in_order_for_100_messages_in_ten_batches()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);

        for (var batch = 0; batch < 10; batch++)
        {
            var ids = Enumerable.Range(batch * 10, 10).Select(i => $"ten-{i}").ToArray();
            await host.SubmitAsync(ids.Select(id => MessagingHost.Chat(a, b, id, id)).ToArray());
            await host.AnswersAsync(a, ids);
        }

        var rows = await host.DbAsync(db => db.Messages.Where(m => m.SenderId == a).OrderBy(m => m.ConversationSeq).ToListAsync());
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), rows.Select(r => r.ConversationSeq));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"ten-{i}"), rows.Select(r => r.Content));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Concurrent_batches_into_one_conversation_stay_gap_free_and_keep_each_batch_in_order()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);

        // Twenty batches of ten, from both sides, sent at once from two gateways (two partitions).
        var batches = Enumerable.Range(0, 20).Select(batch => Enumerable.Range(0, 10)
            .Select(i => MessagingHost.Chat(batch % 2 == 0 ? a : b, batch % 2 == 0 ? b : a, $"par-{batch}-{i}", $"{batch}:{i}"))
            .ToArray()).ToList();
        await Task.WhenAll(batches.Select((m, i) => host.SubmitFromAsync(i % 2 == 0 ? MessagingHost.G1 : MessagingHost.G2, m)));
        // Every message answered (counted once: a router warming up sends each answer to both gateways).
        await host.Pushes.WaitForAsync(all => all.Where(p => p.Push.OnlyConnectionId is not null
            && p.Push.Message.ClientMsgId!.StartsWith("par-", StringComparison.Ordinal)).Select(p => p.Push.Message.ClientMsgId).Distinct().Count() >= 200);

        var rows = await host.DbAsync(db => db.Messages.Where(m => m.ClientMsgId.StartsWith("par-")).OrderBy(m => m.ConversationSeq).ToListAsync());
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), rows.Select(r => r.ConversationSeq));
        foreach (var batch in rows.GroupBy(r => r.Content.Split(':')[0]))
        {
            // Within a batch, seqs follow arrival order (and a batch's seqs are contiguous: one range per batch).
            Assert.Equal(Enumerable.Range(0, 10).Select(i => $"{batch.Key}:{i}"), batch.OrderBy(r => r.ConversationSeq).Select(r => r.Content));
            Assert.Equal(9, batch.Max(r => r.ConversationSeq) - batch.Min(r => r.ConversationSeq));
        }
        host.AssertNoFaults();
    }

    [Fact]
    public async Task The_ack_leaves_only_after_the_message_is_committed()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        var observed = new List<(long Id, bool Stored)>();
        host.Pushes.Observer = async (gateway, message) =>
        {
            foreach (var ack in message.Pushes.Where(p => (p.OnlyConnectionId ?? p.AckConnectionId) is not null && p.Message.Status == MessageStatus.Sent))
            {
                // A fresh connection sees only committed rows.
                var stored = await host.DbAsync(db => db.Messages.AnyAsync(m => m.Id == ack.Message.Id && m.ConversationSeq == (long)ack.Message.ConversationSeq));
                lock (observed)
                    observed.Add((ack.Message.Id, stored));
            }
        };

        for (var i = 0; i < 5; i++)
            await host.SubmitAsync(Enumerable.Range(0, 20).Select(j => MessagingHost.Chat(a, b, $"commit-{i}-{j}")).ToArray());
        await host.Pushes.WaitForAsync(all => all.Count(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId is not null) >= 100);

        lock (observed)
        {
            Assert.True(observed.Count >= 100);
            Assert.All(observed, o => Assert.True(o.Stored, $"ack {o.Id} was observed before its row was committed"));
        }
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_message_to_a_non_friend_is_refused_with_an_error_and_not_stored()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, stranger) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());

        await host.SubmitAsync(MessagingHost.Chat(a, stranger, "nf-1", seq: 5));

        var fail = (await host.AnswersAsync(a, "nf-1")).Single();
        Assert.Equal(MessageStatus.Fail, fail.Status);
        Assert.False(string.IsNullOrWhiteSpace(fail.Error));
        Assert.Equal(((uint)5, 0L, 0UL), (fail.Seq, fail.Id, fail.ConversationSeq));
        Assert.False(await host.DbAsync(db => db.Messages.AnyAsync(m => m.SenderId == a)));
        Assert.DoesNotContain(host.Pushes.Snapshot(), p => p.Push.UserId == stranger);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_stale_projection_is_checked_with_the_friends_service_before_refusing()
    {
        var asked = new List<RelationshipQuery>();
        // A responder is there: give it time on a loaded machine (the host's default is 300 ms, for tests without one).
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:RelationshipCheckTimeoutMs"] = "10000" },
            configureBus: bus => bus.AddHandler<CheckRelationships>(async context =>
        {
            lock (asked)
                asked.AddRange(context.Message.Queries);
            // The friends service knows a friendship the projection has not heard of yet.
            await context.RespondAsync(new RelationshipsChecked(context.Message.Queries
                .Select(q => new RelationshipAnswer(q.UserId, q.OtherId, q.IsGroup, true)).ToList()));
        }));
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());

        await host.SubmitAsync(MessagingHost.Chat(a, b, "fresh-friend"));

        var ack = (await host.AnswersAsync(a, "fresh-friend")).Single();
        Assert.Equal(MessageStatus.Sent, ack.Status);
        lock (asked)
            Assert.Contains(new RelationshipQuery(a, b, false), asked);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task One_user_sending_to_strangers_asks_the_friends_service_only_within_a_budget_and_others_are_still_asked()
    {
        var asked = new List<RelationshipQuery>();
        var attacker = MessagingHost.NewUserId();
        var strangers = Enumerable.Range(0, 40).Select(_ => MessagingHost.NewUserId()).ToList();
        var (bystander, newFriend) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?>
            {
                ["Messaging:RelationshipCheckTimeoutMs"] = "10000",
                // No refill within the test: the burst is the whole budget.
                ["Messaging:RelationshipAsksPerSecond"] = "0.001",
                ["Messaging:RelationshipAskBurst"] = "3",
            },
            configureBus: bus => bus.AddHandler<CheckRelationships>(async context =>
            {
                lock (asked)
                    asked.AddRange(context.Message.Queries);
                // Friends knows none of the attacker's targets; it knows the bystander's new friend, whom
                // the projection has not heard of yet.
                await context.RespondAsync(new RelationshipsChecked(context.Message.Queries
                    .Select(q => new RelationshipAnswer(q.UserId, q.OtherId, q.IsGroup, q.UserId == bystander)).ToList()));
            }));

        // Forty strangers, then forty groups the attacker is not in, one message each, in a few batches.
        await host.SubmitAsync(strangers.Select((s, i) => MessagingHost.Chat(attacker, s, $"stranger-{i}")).ToArray());
        await host.SubmitAsync(strangers.Select((s, i) => MessagingHost.Chat(attacker, s, $"group-{i}", chatType: 1)).ToArray());
        var answers = await host.AnswersAsync(attacker, strangers.Select((_, i) => $"stranger-{i}").Concat(strangers.Select((_, i) => $"group-{i}")).ToArray());
        await host.SubmitAsync(MessagingHost.Chat(bystander, newFriend, "to-a-new-friend"));
        var bystanderAnswer = (await host.AnswersAsync(bystander, "to-a-new-friend")).Single();

        Assert.Equal(80, answers.Count);
        Assert.All(answers, a => Assert.Equal(MessageStatus.Fail, a.Status));
        lock (asked)
        {
            Assert.Equal(3, asked.Count(q => q.UserId == attacker));
            // Another user's question is asked: the budget is per user.
            Assert.Contains(new RelationshipQuery(bystander, newFriend, false), asked);
        }
        Assert.Equal(MessageStatus.Sent, bystanderAnswer.Status);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Friendship_is_not_required_when_configured_off()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:RequireFriendship"] = "false" });
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());

        await host.SubmitAsync(MessagingHost.Chat(a, b, "open"));

        Assert.Equal(MessageStatus.Sent, (await host.AnswersAsync(a, "open")).Single().Status);
        host.AssertNoFaults();
    }

    private static List<(string Field, ChatSubmission Submission)> BadSubmissions(long a, long b) =>
    [
        ("msg_type", MessagingHost.Chat(a, b, "bad-type", msgType: 4)),
        ("msg_type", MessagingHost.Chat(a, b, "bad-type-neg", msgType: -1)),
        ("chat_type", MessagingHost.Chat(a, b, "bad-chat", chatType: 2)),
        ("to_user_id", MessagingHost.Chat(a, 0, "bad-to")),
        ("to_user_id", MessagingHost.Chat(a, a, "bad-self")),
        ("client_msg_id", MessagingHost.Chat(a, b, "")),
        ("client_msg_id", MessagingHost.Chat(a, b, new string('k', 65))),
        ("content", MessagingHost.Chat(a, b, "bad-empty", "")),
        ("content", MessagingHost.Chat(a, b, "bad-long", new string('x', 16 * 1024 + 1))),
    ];

    [Fact]
    public async Task Each_invalid_message_is_refused_with_its_own_error_and_the_valid_ones_of_the_batch_are_stored()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        // Each bad one gets a distinct seq to match its answer by, since some have no usable client_msg_id.
        var numbered = BadSubmissions(a, b).Select((x, i) => (x.Field, x.Submission with { Message = x.Submission.Message with { Seq = (uint)(100 + i) } })).ToList();

        await host.SubmitAsync([MessagingHost.Chat(a, b, "good-1", "ok", seq: 1), .. numbered.Select(x => x.Item2), MessagingHost.Chat(a, b, "good-2", "ok", seq: 2)]);

        var seen = await host.Pushes.WaitForAsync(all => all.Count(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId == $"c{a}") >= numbered.Count + 2);
        var answers = seen.Where(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId == $"c{a}").ToDictionary(p => p.Push.Message.Seq, p => p.Push.Message);
        for (var i = 0; i < numbered.Count; i++)
        {
            var fail = answers[(uint)(100 + i)];
            Assert.Equal(MessageStatus.Fail, fail.Status);
            Assert.Contains(numbered[i].Item1, fail.Error);
        }
        Assert.Equal((MessageStatus.Sent, MessageStatus.Sent), (answers[1].Status, answers[2].Status));
        Assert.Equal((1UL, 2UL), (answers[1].ConversationSeq, answers[2].ConversationSeq));
        Assert.Equal(2, await host.DbAsync(db => db.Messages.CountAsync(m => m.SenderId == a)));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_group_message_from_a_member_reaches_every_other_member_and_a_non_member_is_refused()
    {
        await using var host = await MessagingHost.StartAsync();
        var group = MessagingHost.NewUserId();
        var (owner, member, outsider) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.JoinGroupAsync(group, owner, "owner");
        await host.JoinGroupAsync(group, member);

        await host.SubmitAsync(
            MessagingHost.Chat(member, group, "g-1", "to all", chatType: 1),
            MessagingHost.Chat(outsider, group, "g-2", "let me in", chatType: 1));

        var ack = (await host.AnswersAsync(member, "g-1")).Single();
        var fail = (await host.AnswersAsync(outsider, "g-2")).Single();
        Assert.Equal((MessageStatus.Sent, $"g_{group}", 1UL), (ack.Status, ack.ConversationId, ack.ConversationSeq));
        Assert.Equal(MessageStatus.Fail, fail.Status);
        Assert.Contains("member", fail.Error);
        var seen = await host.Pushes.WaitForAsync(all => all.Any(p => p.Push.UserId == owner && p.Push.Message.Id == ack.Id));
        Assert.DoesNotContain(seen, p => p.Push.UserId == member && p.Push.OnlyConnectionId is null && p.Push.SkipConnectionId is null);
        Assert.DoesNotContain(seen, p => p.Push.UserId == outsider && p.Push.Message.Id == ack.Id);
        Assert.Equal((1, group), (seen.First(p => p.Push.UserId == owner).Push.Message.ChatType, seen.First(p => p.Push.UserId == owner).Push.Message.ToUserId));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_muted_member_and_anyone_but_the_owner_of_a_muted_group_are_refused()
    {
        await using var host = await MessagingHost.StartAsync();
        var (loud, quiet) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        var (owner, member, muted) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        foreach (var g in new[] { loud, quiet })
        {
            await host.JoinGroupAsync(g, owner, "owner");
            await host.JoinGroupAsync(g, member);
            await host.JoinGroupAsync(g, muted);
        }
        // No event sets these flags yet: they are stored for a future moderation API.
        await host.DbAsync(async db =>
        {
            await db.GroupMembers.Where(m => m.GroupId == loud && m.UserId == muted).ExecuteUpdateAsync(s => s.SetProperty(m => m.Muted, true));
            db.Groups.Add(new GroupSettings { GroupId = quiet, Muted = true });
            await db.SaveChangesAsync();
        });

        await host.SubmitAsync(
            MessagingHost.Chat(muted, loud, "mute-1", chatType: 1),
            MessagingHost.Chat(member, loud, "mute-2", chatType: 1),
            MessagingHost.Chat(member, quiet, "mute-3", chatType: 1),
            MessagingHost.Chat(owner, quiet, "mute-4", chatType: 1));

        Assert.Equal(MessageStatus.Fail, (await host.AnswersAsync(muted, "mute-1")).Single().Status);
        var memberAnswers = await host.AnswersAsync(member, "mute-2", "mute-3");
        Assert.Equal((MessageStatus.Sent, MessageStatus.Fail), (memberAnswers[0].Status, memberAnswers[1].Status));
        Assert.Contains("owner", memberAnswers[1].Error);
        Assert.Equal(MessageStatus.Sent, (await host.AnswersAsync(owner, "mute-4")).Single().Status);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Database_connections_wait_inside_sqlite_for_a_lock_and_leave_checkpoints_to_the_background()
    {
        await using var host = await MessagingHost.StartAsync();

        var (busyTimeout, autoCheckpoint, synchronous) = await host.DbAsync(async db =>
        {
            await db.Database.OpenConnectionAsync();
            long Pragma(string name)
            {
                using var command = db.Database.GetDbConnection().CreateCommand();
                command.CommandText = $"PRAGMA {name}";
                return (long)command.ExecuteScalar()!;
            }
            return (Pragma("busy_timeout"), Pragma("wal_autocheckpoint"), Pragma("synchronous"));
        });

        Assert.Equal((5000L, 0L, 2L), (busyTimeout, autoCheckpoint, synchronous));
    }
}
