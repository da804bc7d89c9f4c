using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Retention;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Messaging;

/// <summary>
/// The update stream's message positions (issue 14), on the real pipeline and a real SQLite file: every stored message
/// takes the next position of each of its users' streams, pushes carry them, and a sync after a position brings
/// exactly the messages at later positions, whatever the user's cursors say.
/// </summary>
public sealed class UpdateStreamTests
{
    private static bool IsDone(UserPush push) => push.Message.MsgType == 4 && push.Message.Text().Contains("\"SYNC\"", StringComparison.Ordinal);

    private sealed record Positioned(long UserId, long Position, string ConversationId, ulong Seq, string Content);

    /// <summary>Every (user, position) the pushes so far carried, once each (a sender's copy goes to two gateways).</summary>
    private static List<Positioned> PositionsPushed(MessagingHost host)
    {
        var seen = new Dictionary<(long, long), Positioned>();
        foreach (var (_, _, push) in host.Pushes.Snapshot())
        {
            if (push.Positions is not { } positions)
                continue;
            long[] users = [push.UserId, .. push.AlsoUserIds ?? []];
            Assert.True(users.Length == positions.Count, $"{System.Text.Json.JsonSerializer.Serialize(push)}");
            for (var i = 0; i < users.Length; i++)
            {
                var at = new Positioned(users[i], positions[i], push.Message.ConversationId!, push.Message.ConversationSeq, push.Message.Content);
                if (seen.TryGetValue((at.UserId, at.Position), out var earlier))
                    Assert.True(earlier == at, $"position {at.Position} of {at.UserId}: {earlier} and {at}"); // one position, one message
                seen[(at.UserId, at.Position)] = at;
            }
        }
        return [.. seen.Values];
    }

    private static async Task<(long A, long B, long C, long Group)> PeopleAsync(MessagingHost host)
    {
        var (a, b, c, group) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.JoinGroupAsync(group, a, "owner");
        await host.JoinGroupAsync(group, b);
        await host.JoinGroupAsync(group, c);
        return (a, b, c, group);
    }

    /// <summary>Three to b in a row (one run of b's stream), one to the group, then b answers and c writes to the group.</summary>
    private static async Task ChatAsync(MessagingHost host, long a, long b, long c, long group)
    {
        await host.SubmitAsync(
            MessagingHost.Chat(a, b, "ab-1", "ab-1"), MessagingHost.Chat(a, b, "ab-2", "ab-2"), MessagingHost.Chat(a, b, "ab-3", "ab-3"),
            MessagingHost.Chat(a, group, "ag-1", "ag-1", chatType: 1));
        await host.AnswersAsync(a, "ab-1", "ab-2", "ab-3", "ag-1");
        await host.SubmitAsync(MessagingHost.Chat(b, a, "ba-1", "ba-1"));
        await host.AnswersAsync(b, "ba-1");
        await host.SubmitAsync(MessagingHost.Chat(c, group, "cg-1", "cg-1", chatType: 1));
        await host.AnswersAsync(c, "cg-1");
        // Every recipient's copy is pushed by now too: pushes leave in the order of their commits.
        await host.Pushes.WaitForAsync(all => PositionsPushed(host).Count(p => p.UserId == b) == 6);
    }

    [Fact]
    public async Task Every_stored_message_takes_the_next_position_of_each_of_its_users_streams_without_gaps()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b, c, group) = await PeopleAsync(host);

        await ChatAsync(host, a, b, c, group);
        var pushed = PositionsPushed(host);

        // a and b are in all six conversations' messages, c in the group's two; a sender's own copy has a position too.
        Assert.Equal([1L, 2, 3, 4, 5, 6], pushed.Where(p => p.UserId == a).Select(p => p.Position).Order());
        Assert.Equal([1L, 2, 3, 4, 5, 6], pushed.Where(p => p.UserId == b).Select(p => p.Position).Order());
        Assert.Equal([1L, 2], pushed.Where(p => p.UserId == c).Select(p => p.Position).Order());
        // Positions follow the order the messages were sent in, in every conversation.
        Assert.Equal(["ab-1", "ab-2", "ab-3", "ag-1", "ba-1", "cg-1"], pushed.Where(p => p.UserId == b).OrderBy(p => p.Position).Select(p => p.Content));
        Assert.Equal(["ag-1", "cg-1"], pushed.Where(p => p.UserId == c).OrderBy(p => p.Position).Select(p => p.Content));

        // Stored: each head, and entries that hold every position from 1 to it, once.
        var heads = await host.DbAsync(db => db.StreamHeads.AsNoTracking().Where(h => h.UserId == a || h.UserId == b || h.UserId == c)
            .ToDictionaryAsync(h => h.UserId, h => h.Position));
        Assert.Equal((6L, 6L, 2L), (heads[a], heads[b], heads[c]));
        foreach (var user in new[] { a, b, c })
        {
            var entries = await host.DbAsync(db => db.StreamEntries.AsNoTracking().Where(e => e.UserId == user).OrderBy(e => e.Position).ToListAsync());
            var covered = entries.SelectMany(e => Enumerable.Range(0, (int)(e.SeqTo - e.SeqFrom + 1)).Select(i => e.Position + i)).ToList();
            Assert.Equal(Enumerable.Range(1, (int)heads[user]).Select(i => (long)i), covered);
        }
        // b's three in a row are one entry, not three.
        var bEntries = await host.DbAsync(db => db.StreamEntries.AsNoTracking().Where(e => e.UserId == b).OrderBy(e => e.Position).ToListAsync());
        Assert.Equal((1L, 1L, 3L), (bEntries[0].Position, bEntries[0].SeqFrom, bEntries[0].SeqTo));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Routed_by_gateway_a_group_push_split_and_folded_still_gives_each_user_their_own_position()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b, c, group) = await PeopleAsync(host);
        var d = MessagingHost.NewUserId();
        await host.JoinGroupAsync(group, d);
        // a and c on g1, b and d on g2: the group's pushes are split by gateway, a's ack folded with c's copy.
        await host.WarmAsync(onG1: [a, c], onG2: [b, d]);

        await ChatAsync(host, a, b, c, group);
        await host.Pushes.WaitForAsync(all => PositionsPushed(host).Count(p => p.UserId == d) == 2);
        var pushed = PositionsPushed(host);

        Assert.Equal(["ab-1", "ab-2", "ab-3", "ag-1", "ba-1", "cg-1"], pushed.Where(p => p.UserId == b).OrderBy(p => p.Position).Select(p => p.Content));
        Assert.Equal(["ag-1", "cg-1"], pushed.Where(p => p.UserId == c).OrderBy(p => p.Position).Select(p => p.Content));
        Assert.Equal([(1L, "ag-1"), (2L, "cg-1")], pushed.Where(p => p.UserId == d).OrderBy(p => p.Position).Select(p => (p.Position, p.Content)));
        Assert.Equal([1L, 2, 3, 4, 5, 6], pushed.Where(p => p.UserId == a).Select(p => p.Position).Order());
        // Each gateway got only its own users' pushes.
        Assert.DoesNotContain(host.Pushes.Snapshot(), p => p.Gateway == MessagingHost.G1 && p.Push.UserId == d);
        Assert.DoesNotContain(host.Pushes.Snapshot(), p => p.Gateway == MessagingHost.G2 && p.Push.UserId == c);
        host.AssertNoFaults();
    }

    /// <summary>What a sync after <paramref name="after"/> wrote to the connection, and its SYNC done.</summary>
    private static async Task<(List<WireMessage> Messages, string Done)> SyncAfterAsync(MessagingHost host, long user, string connection, long after)
    {
        await host.Harness.Bus.Publish(new SyncConversations(user, connection, null, After: after));
        // Presence knows no gateway here: every push goes to both; g1's copy is the connection's.
        var seen = await host.Pushes.WaitForAsync(all => all.Any(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId == connection && IsDone(p.Push)));
        var mine = seen.Where(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId == connection).Select(p => p.Push).ToList();
        return (mine.Where(p => !IsDone(p)).Select(p => p.Message).ToList(), mine.Single(IsDone).Message.Text());
    }

    [Fact]
    public async Task A_sync_after_a_position_brings_exactly_the_messages_at_later_positions_whatever_the_cursors_say()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b, c, group) = await PeopleAsync(host);
        await ChatAsync(host, a, b, c, group);
        var streamOfB = PositionsPushed(host).Where(p => p.UserId == b).OrderBy(p => p.Position).ToList();
        // Another device of b's has received everything: the ARRIVED cursors are at the end, and do not matter here.
        foreach (var conversation in streamOfB.GroupBy(p => p.ConversationId))
            await host.Harness.Bus.Publish(new RecordReceipts([new Receipt(b, conversation.Key, conversation.Max(p => p.Seq), MessageStatus.Arrived)]));
        await host.WaitConsumedAsync<RecordReceipts>();

        foreach (var after in new[] { 0L, 1, 2, 3, 5 })
        {
            var (messages, done) = await SyncAfterAsync(host, b, $"b-tablet-{after}", after);

            var expected = streamOfB.Where(p => p.Position > after).Select(p => (p.ConversationId, p.Seq)).Order().ToList();
            Assert.Equal(expected, messages.Select(m => (m.ConversationId!, m.ConversationSeq)).Order().ToList());
            Assert.Contains("\"head\":6", done, StringComparison.Ordinal);
            Assert.DoesNotContain("position_expired", done, StringComparison.Ordinal);
        }
        var (none, atHead) = await SyncAfterAsync(host, b, "b-tablet-6", 6);
        Assert.Empty(none);
        Assert.Contains("\"head\":6", atHead, StringComparison.Ordinal);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_position_older_than_the_kept_stream_syncs_by_the_cursors_and_says_so()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:Retention:StreamDays"] = "30" });
        var (a, b, c, group) = await PeopleAsync(host);
        await ChatAsync(host, a, b, c, group);
        // b's first three positions (the run ab-1..ab-3) were stored 40 days ago.
        await host.DbAsync(db => db.StreamEntries.Where(e => e.UserId == b && e.Position <= 3)
            .ExecuteUpdateAsync(s => s.SetProperty(e => e.CreatedAtMs, e => e.CreatedAtMs - 40 * 86_400_000L)));

        var pruned = await host.Services.GetRequiredService<MessageRetention>().PruneStreamAsync(CancellationToken.None);
        var (fromCursors, expired) = await SyncAfterAsync(host, b, "b-old", 1);
        var (kept, fine) = await SyncAfterAsync(host, b, "b-recent", 3);

        Assert.InRange(pruned, 0, 1); // the background sweep may have taken it first
        Assert.Equal(0, await host.DbAsync(db => db.StreamEntries.CountAsync(e => e.UserId == b && e.Position <= 3)));
        Assert.Contains("\"position_expired\":true", expired, StringComparison.Ordinal);
        // The fallback goes from b's ARRIVED cursors: b's own ba-1 (seq 4) moved the one-to-one's; the group's has none.
        Assert.Equal(["ag-1", "cg-1"], fromCursors.Select(m => m.Text()).Order());
        Assert.DoesNotContain("position_expired", fine, StringComparison.Ordinal);
        Assert.Equal(["ag-1", "ba-1", "cg-1"], kept.Select(m => m.Text()).Order());
        host.AssertNoFaults();
    }

    private static AppendStreamUpdates Invitations(long to, params (Guid Id, long From)[] invites) =>
        new([.. invites.Select(i => new StreamUpdate(i.Id, to, new WireMessage
        {
            MsgType = EventKeys.EventMsgType, FromUserId = i.From, ToUserId = to, Event = new FriendInviteEvent(i.From, "hi"),
        }))]);

    /// <summary>Publishes the append and waits until it has been consumed (a record holding a list is not equal to its copy: matched by its first id).</summary>
    private static async Task AppendAsync(MessagingHost host, AppendStreamUpdates append)
    {
        await host.Harness.Bus.Publish(append);
        await host.WaitConsumedAsync<AppendStreamUpdates>(m => m.Updates.Count > 0 && m.Updates[0].Id == append.Updates[0].Id);
    }

    private static async Task<UserUpdatesPage> UpdatesAsync(MessagingHost host, long user, long after, int limit = 100) =>
        (await host.Harness.GetRequestClient<GetUserUpdates>().GetResponse<UserUpdatesPage>(new GetUserUpdates(user, after, limit))).Message;

    private static long PositionOf(WireMessage m) => m.Event?.Position ?? 0;

    [Fact]
    public async Task Friend_events_take_positions_of_the_same_stream_as_messages_and_a_repeat_appends_nothing()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.SubmitAsync(MessagingHost.Chat(a, b, "before", "before"));
        await host.AnswersAsync(a, "before");
        var (x, y) = (Guid.NewGuid(), Guid.NewGuid());

        await AppendAsync(host, Invitations(b, (x, a), (y, MessagingHost.NewUserId())));
        await AppendAsync(host, Invitations(b, (x, a))); // the outbox published it again
        await host.SubmitAsync(MessagingHost.Chat(a, b, "after", "after"));
        await host.AnswersAsync(a, "after");
        var all = await UpdatesAsync(host, b, 0);
        var first = await UpdatesAsync(host, b, 0, limit: 1);
        var rest = await UpdatesAsync(host, b, 2);

        // b: the message at 1, the two events at 2 and 3 (the repeat took none), the next message at 4.
        Assert.Equal([2L, 3L], all.Updates.Select(PositionOf));
        Assert.Equal((4L, 1L, false), (all.Last, all.Oldest, all.More));
        Assert.Equal([2L], first.Updates.Select(PositionOf));
        Assert.True(first.More);
        Assert.Equal([3L], rest.Updates.Select(PositionOf));
        Assert.Equal(4L, PositionsPushed(host).Single(p => p.UserId == b && p.Content == "after").Position);
        // The repeat was pushed again, at the position it already had.
        var pushedX = host.Pushes.Snapshot().Where(p => p.Push.UserId == b && p.Push.Message.Event is FriendInviteEvent { RequestId: var from } && from == a)
            .Select(p => PositionOf(p.Push.Message)).Distinct().ToList();
        Assert.Equal([2L], pushedX);
        // A sync after 1 brings the message at 4 (the events at 2 and 3 are read by GetUserUpdates).
        var (messages, done) = await SyncAfterAsync(host, b, "b-after-1", 1);
        Assert.Equal(["after"], messages.Select(m => m.Text()));
        Assert.Contains("\"head\":4", done, StringComparison.Ordinal);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Appends_racing_for_one_user_get_every_position_once()
    {
        await using var host = await MessagingHost.StartAsync();
        var target = MessagingHost.NewUserId();

        await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => host.Harness.Bus.Publish(Invitations(target, (Guid.NewGuid(), MessagingHost.NewUserId())))));
        await host.Pushes.WaitForAsync(all => all.Count(p => p.Push.UserId == target) >= 12 * 2); // broadcast: both gateways
        var page = await UpdatesAsync(host, target, 0);

        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), page.Updates.Select(PositionOf));
        Assert.Equal(12L, page.Last);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Bad_bounds_for_a_page_of_events_are_refused_naming_them()
    {
        await using var host = await MessagingHost.StartAsync();
        var client = host.Harness.GetRequestClient<GetUserUpdates>();

        var negative = await client.GetResponse<UserUpdatesPage, EasyIm.Contracts.RequestRejected>(new GetUserUpdates(1, -1, 10));
        var tooMany = await client.GetResponse<UserUpdatesPage, EasyIm.Contracts.RequestRejected>(new GetUserUpdates(1, 0, GetUserUpdates.MaxLimit + 1));

        Assert.True(negative.Is(out MassTransit.Response<EasyIm.Contracts.RequestRejected>? n) && n.Message is { Code: 400, Field: "after" });
        Assert.True(tooMany.Is(out MassTransit.Response<EasyIm.Contracts.RequestRejected>? t) && t.Message is { Code: 400, Field: "limit" });
    }

    [Fact]
    public async Task Pruning_takes_old_events_with_old_messages_and_never_gives_a_position_twice()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:Retention:StreamDays"] = "30" });
        var target = MessagingHost.NewUserId();
        await AppendAsync(host, Invitations(target, (Guid.NewGuid(), 1), (Guid.NewGuid(), 2), (Guid.NewGuid(), 3)));
        await host.DbAsync(db => db.StreamEvents.Where(e => e.UserId == target && e.Position <= 2)
            .ExecuteUpdateAsync(s => s.SetProperty(e => e.CreatedAtMs, e => e.CreatedAtMs - 40 * 86_400_000L)));

        await host.Services.GetRequiredService<MessageRetention>().PruneStreamAsync(CancellationToken.None);
        await AppendAsync(host, Invitations(target, (Guid.NewGuid(), 4)));
        var page = await UpdatesAsync(host, target, 0);
        var (_, expired) = await SyncAfterAsync(host, target, "t-old", 1);

        Assert.Equal([3L, 4L], page.Updates.Select(PositionOf));
        Assert.Equal((4L, 3L), (page.Last, page.Oldest));
        Assert.Contains("\"position_expired\":true", expired, StringComparison.Ordinal);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_large_group_is_its_own_stream_and_a_sync_after_a_position_goes_on_from_the_devices_seqs_or_the_cursors()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:StreamMaxGroupMembers"] = "2" });
        var (a, b, c, group) = await PeopleAsync(host);
        await host.SubmitAsync(MessagingHost.Chat(a, b, "d-1", "d-1"), MessagingHost.Chat(a, group, "g-1", "g-1", chatType: 1),
            MessagingHost.Chat(a, group, "g-2", "g-2", chatType: 1), MessagingHost.Chat(a, b, "d-2", "d-2"));
        var acks = await host.AnswersAsync(a, "d-1", "g-1", "g-2", "d-2");
        await host.Pushes.WaitForAsync(all => PositionsPushed(host).Count(p => p.UserId == b) == 2);
        var groupConversation = acks[1].ConversationId!;
        await host.Harness.Bus.Publish(new RecordReceipts([new Receipt(b, groupConversation, 1, MessageStatus.Arrived)]));
        await host.WaitConsumedAsync<RecordReceipts>();

        // Three members, more than 2: the group's messages take no positions; the one-to-one's do, 1 and 2, for b.
        Assert.Equal([("d-1", 1L), ("d-2", 2L)], PositionsPushed(host).Where(p => p.UserId == b).OrderBy(p => p.Position).Select(p => (p.Content, p.Position)));
        Assert.DoesNotContain(PositionsPushed(host), p => p.ConversationId == groupConversation);
        Assert.Equal(0, await host.DbAsync(db => db.StreamEntries.CountAsync(e => e.ConversationId == groupConversation)));

        // After position 1: d-2 by the position; the group from b's ARRIVED cursor (1), or from the seq the device names.
        var (byCursor, _) = await SyncAfterAsync(host, b, "b-cursor", 1);
        await host.Harness.Bus.Publish(new SyncConversations(b, "b-seqs", new Dictionary<string, ulong> { [groupConversation] = 0 }, After: 1));
        var seen = await host.Pushes.WaitForAsync(all => all.Any(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId == "b-seqs" && IsDone(p.Push)));
        var bySeqs = seen.Where(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId == "b-seqs" && !IsDone(p.Push)).Select(p => p.Push.Message.Text()).ToList();

        Assert.Equal(["d-2", "g-2"], byCursor.Select(m => m.Text()).Order());
        Assert.Equal(["d-2", "g-1", "g-2"], bySeqs.Order());
        host.AssertNoFaults();
    }
    [Fact]
    public async Task A_group_that_was_large_stays_its_own_stream_after_it_shrinks_so_a_sync_after_a_position_misses_none_of_its_messages()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:StreamMaxGroupMembers"] = "2" });
        var (a, b, c, group) = await PeopleAsync(host);
        // Three members, more than 2: g-1 takes no positions.
        await host.SubmitAsync(MessagingHost.Chat(a, group, "g-1", "g-1", chatType: 1));
        var groupConversation = (await host.AnswersAsync(a, "g-1"))[0].ConversationId!;
        Assert.True(await host.DbAsync(db => db.Conversations.Where(x => x.Id == groupConversation).Select(x => x.OwnStream).SingleAsync()));

        // c leaves: two members, within the limit. The group stays its own stream: g-2 takes no positions either.
        await host.Harness.Bus.Publish(new GroupMemberRemoved(group, c, DateTimeOffset.UtcNow));
        await host.WaitConsumedAsync<GroupMemberRemoved>();
        await host.SubmitAsync(MessagingHost.Chat(a, group, "g-2", "g-2", chatType: 1), MessagingHost.Chat(a, b, "d-1", "d-1"));
        await host.AnswersAsync(a, "g-2", "d-1");
        await host.Pushes.WaitForAsync(all => PositionsPushed(host).Count(p => p.UserId == b) == 1);
        Assert.DoesNotContain(PositionsPushed(host), p => p.ConversationId == groupConversation);

        // b's device has nothing (position 0), and b's ARRIVED cursor is 0: both group messages come, with d-1, once each.
        var (synced, _) = await SyncAfterAsync(host, b, "b-after-0", 0);
        Assert.Equal(["d-1", "g-1", "g-2"], synced.Select(m => m.Text()).Order());
        host.AssertNoFaults();
    }
    [Fact]
    public async Task A_receipt_takes_the_next_position_of_its_senders_stream_and_is_fetched_after_a_position_but_not_in_a_large_group()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:StreamMaxGroupMembers"] = "2" });
        var (a, b, c, group) = await PeopleAsync(host);
        await host.SubmitAsync(MessagingHost.Chat(a, b, "d-1", "d-1"), MessagingHost.Chat(a, b, "d-2", "d-2"), MessagingHost.Chat(a, group, "g-1", "g-1", chatType: 1));
        var acks = await host.AnswersAsync(a, "d-1", "d-2", "g-1");
        var (direct, groupConversation) = (acks[0].ConversationId!, acks[2].ConversationId!);

        // b reads the one-to-one through 2 (ARRIVED with it) and receives the group's message, which is its own stream.
        await host.Harness.Bus.Publish(new RecordReceipts([new Receipt(b, direct, 2, MessageStatus.Read), new Receipt(b, groupConversation, 1, MessageStatus.Arrived)]));
        await host.WaitConsumedAsync<RecordReceipts>();
        await host.Pushes.WaitForAsync(all => all.Count(p => p.Push.UserId == a && p.Push.Message.Event is ReceiptEvent) >= 3);
        var receipts = host.Pushes.Snapshot().Where(p => p.Push.UserId == a).Select(p => p.Push.Message.Event).OfType<ReceiptEvent>().Distinct().ToList();

        // a's stream: d-1 and d-2 at 1 and 2, then ARRIVED and READ of the one-to-one at 3 and 4; the group's receipt has none.
        Assert.Equal([(direct, false, 3L), (direct, true, 4L)], receipts.Where(r => r.ConversationId == direct).Select(r => (r.ConversationId, r.Read, r.Position)).Order());
        Assert.Equal(0L, receipts.Single(r => r.ConversationId == groupConversation).Position);
        var page = await UpdatesAsync(host, a, 2);
        Assert.Equal([(3L, false), (4L, true)], page.Updates.Select(u => (PositionOf(u), ((ReceiptEvent)u.Event!).Read)));
        Assert.All(page.Updates, u => Assert.Equal((b, a, direct), (u.FromUserId, u.ToUserId, u.ConversationId)));
        Assert.Equal(4L, page.Last);
        // A device of a's after position 3 gets the READ alone, as it was pushed.
        var after3 = await UpdatesAsync(host, a, 3);
        Assert.Equal([MessageStatus.Read], after3.Updates.Select(u => u.Status));
        host.AssertNoFaults();
    }
    [Fact]
    public async Task A_position_gap_fill_brings_the_events_and_the_conversations_of_the_missing_positions_only()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b, c, group) = await PeopleAsync(host);
        await host.BefriendAsync(c, b);
        // b's stream: d-1 (1), the group's g-1 (2), an invitation (3), c's e-1 (4), d-2 (5).
        await host.SubmitAsync(MessagingHost.Chat(a, b, "d-1", "d-1"), MessagingHost.Chat(a, group, "g-1", "g-1", chatType: 1));
        await host.AnswersAsync(a, "d-1", "g-1");
        await AppendAsync(host, Invitations(b, (Guid.NewGuid(), a)));
        await host.SubmitAsync(MessagingHost.Chat(c, b, "e-1", "e-1"));
        await host.AnswersAsync(c, "e-1");
        await host.SubmitAsync(MessagingHost.Chat(a, b, "d-2", "d-2"));
        await host.AnswersAsync(a, "d-2");
        await host.Pushes.WaitForAsync(all => PositionsPushed(host).Count(p => p.UserId == b) == 4);

        // The gateway wrote 1 and 4 onwards to b's connection, and asks for 2..3.
        await host.Harness.Bus.Publish(new SyncConversations(b, "b-live", null, GapFill: true, After: 1, UpTo: 3));
        var seen = await host.Pushes.WaitForAsync(all => all.Any(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId == "b-live" && IsDone(p.Push)));
        var fill = seen.Where(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId == "b-live").Select(p => p.Push).ToList();

        // The invitation at 3 (with its position), the group from g-1 on; not the one-to-ones, nothing past 3.
        Assert.Equal([3L], fill.Where(p => p.Message.Event is FriendInviteEvent).Select(p => PositionOf(p.Message)));
        Assert.Equal(["g-1"], fill.Where(p => p.Message.MsgType == 0).Select(p => p.Message.Text()));
        var done = fill.Single(IsDone);
        Assert.True(done.GapFill);
        Assert.Equal(3L, ((SyncDoneEvent)done.Message.Event!).Head);
        Assert.Equal([GroupConversationOf(fill)], done.SyncedThrough!.Keys);
        host.AssertNoFaults();

        static string GroupConversationOf(List<UserPush> pushes) => pushes.Single(p => p.Message.MsgType == 0).Message.ConversationId!;
    }
    [Fact]
    public async Task A_position_fill_with_more_events_than_a_page_covers_up_to_its_last_event_only_so_the_rest_is_asked_again()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:SyncPageSize"] = "2" });
        var b = MessagingHost.NewUserId();
        await AppendAsync(host, Invitations(b, (Guid.NewGuid(), MessagingHost.NewUserId()), (Guid.NewGuid(), MessagingHost.NewUserId()), (Guid.NewGuid(), MessagingHost.NewUserId())));

        await host.Harness.Bus.Publish(new SyncConversations(b, "b-live", null, GapFill: true, After: 0, UpTo: 3));
        var seen = await host.Pushes.WaitForAsync(all => all.Any(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId == "b-live" && IsDone(p.Push)));
        var fill = seen.Where(p => p.Gateway == MessagingHost.G1 && p.Push.OnlyConnectionId == "b-live").Select(p => p.Push).ToList();

        Assert.Equal([1L, 2L], fill.Where(p => p.Message.Event is FriendInviteEvent).Select(p => PositionOf(p.Message)));
        Assert.Equal(2L, ((SyncDoneEvent)fill.Single(IsDone).Message.Event!).Head);
        host.AssertNoFaults();
    }
}
