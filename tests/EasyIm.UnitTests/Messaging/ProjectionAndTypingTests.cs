using System.Text.Json;
using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Consumers;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Sending;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.UnitTests.Messaging;

public sealed class ProjectionAndTypingTests
{
    private static Task<List<Friendship>> FriendshipsAsync(MessagingHost host, long a, long b) =>
        host.DbAsync(db => db.Friendships.AsNoTracking()
            .Where(f => (f.UserId == a && f.FriendId == b) || (f.UserId == b && f.FriendId == a))
            .ToListAsync());

    [Fact]
    public async Task Friendship_events_feed_both_directions_and_an_older_event_arriving_late_is_ignored()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        var t = DateTimeOffset.UtcNow;

        await host.PublishAndWaitAsync(new FriendshipCreated(a, b, t));
        var created = await FriendshipsAsync(host, a, b);
        await host.PublishAndWaitAsync(new FriendshipRemoved(b, a, t.AddSeconds(-1)));   // late and older: ignored
        var afterStale = await FriendshipsAsync(host, a, b);
        await host.PublishAndWaitAsync(new FriendshipRemoved(b, a, t.AddSeconds(1)));
        var removed = await FriendshipsAsync(host, a, b);
        await host.PublishAndWaitAsync(new FriendshipCreated(a, b, t));                  // the first event redelivered: no change
        await host.SubmitAsync(MessagingHost.Chat(a, b, "after-removal"));

        Assert.Equal(2, created.Count);
        Assert.All(created, f => Assert.True(f.Active));
        Assert.All(afterStale, f => Assert.True(f.Active));
        Assert.Equal(2, removed.Count);
        Assert.All(removed, f => Assert.False(f.Active));
        Assert.Equal(MessageStatus.Fail, (await host.AnswersAsync(a, "after-removal")).Single().Status);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Group_member_events_feed_the_projection_and_a_joiner_starts_at_the_groups_current_end()
    {
        await using var host = await MessagingHost.StartAsync();
        var group = MessagingHost.NewUserId();
        var (owner, joiner) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.JoinGroupAsync(group, owner, "owner");
        await host.SubmitAsync(Enumerable.Range(1, 3).Select(i => MessagingHost.Chat(owner, group, $"before-{i}", chatType: 1)).ToArray());
        await host.AnswersAsync(owner, "before-1", "before-2", "before-3");

        await host.JoinGroupAsync(group, joiner);
        var cursor = await host.DbAsync(db => db.Cursors.AsNoTracking().SingleAsync(k => k.UserId == joiner && k.ConversationId == $"g_{group}"));
        var member = await host.DbAsync(db => db.GroupMembers.AsNoTracking().SingleAsync(m => m.GroupId == group && m.UserId == owner));
        await host.SubmitAsync(MessagingHost.Chat(joiner, group, "joined", chatType: 1));
        var joined = (await host.AnswersAsync(joiner, "joined")).Single();
        await host.Harness.Bus.Publish(new UserConnected(joiner, MessagingHost.G1, "j-1", null, DateTimeOffset.UtcNow));
        var sync = await host.Pushes.WaitForAsync(all => all.Any(p => p.Push.OnlyConnectionId == "j-1" && p.Push.Message.Text().Contains("\"SYNC\"")));
        await host.PublishAndWaitAsync(new GroupMemberRemoved(group, joiner, DateTimeOffset.UtcNow.AddSeconds(1)));
        await host.SubmitAsync(MessagingHost.Chat(joiner, group, "left", chatType: 1));

        Assert.Equal((3L, 3L), (cursor.ArrivedSeq, cursor.ReadSeq));
        Assert.Equal("owner", member.Role);
        Assert.Equal((MessageStatus.Sent, 4UL), (joined.Status, joined.ConversationSeq));
        // The joiner's own message moved its cursor: nothing before or at it is synced.
        Assert.DoesNotContain(sync, p => p.Push.OnlyConnectionId == "j-1" && p.Push.Message.ConversationSeq > 0);
        Assert.Equal(MessageStatus.Fail, (await host.AnswersAsync(joiner, "left")).Single().Status);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_friendship_applied_on_request_lets_either_send_at_once_and_its_late_event_changes_nothing()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        var created = new FriendshipCreated(a, b, DateTimeOffset.UtcNow);

        await host.Harness.GetRequestClient<ApplyFriendship>().GetResponse<FriendshipApplied>(new ApplyFriendship(created));
        await host.SubmitAsync(MessagingHost.Chat(b, a, "at-once"));
        var sent = (await host.AnswersAsync(b, "at-once")).Single();
        await host.PublishAndWaitAsync(created);
        var rows = await FriendshipsAsync(host, a, b);

        Assert.Equal(MessageStatus.Sent, sent.Status);
        Assert.Equal(2, rows.Count);
        Assert.All(rows, f => Assert.True(f.Active));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Members_applied_on_request_are_in_the_projection_when_answered_and_their_event_arriving_later_changes_nothing()
    {
        await using var host = await MessagingHost.StartAsync();
        var group = MessagingHost.NewUserId();
        var (owner, member) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        var at = DateTimeOffset.UtcNow;
        var added = new List<GroupMemberAdded> { new(group, owner, "owner", at), new(group, member, "member", at) };

        var answer = await host.Harness.GetRequestClient<ApplyGroupMembers>().GetResponse<GroupMembersApplied>(new ApplyGroupMembers(added));
        var rows = await host.DbAsync(db => db.GroupMembers.AsNoTracking().Where(m => m.GroupId == group).OrderBy(m => m.UserId).ToListAsync());
        // Sent at once: the member receives it, nothing waits for the published events.
        await host.SubmitAsync(MessagingHost.Chat(owner, group, "right-away", chatType: 1));
        var sent = (await host.AnswersAsync(owner, "right-away")).Single();
        await host.Pushes.WaitForAsync(all => all.Any(p => p.Push.Message.ClientMsgId == "right-away"
            && (p.Push.UserId == member || (p.Push.AlsoUserIds ?? []).Contains(member))));
        foreach (var e in added)
            await host.PublishAndWaitAsync(e);
        var cursor = await host.DbAsync(db => db.Cursors.AsNoTracking().SingleOrDefaultAsync(k => k.UserId == member && k.ConversationId == $"g_{group}"));

        Assert.Equal(2, answer.Message.Count);
        Assert.Equal([(owner, "owner", true), (member, "member", true)], rows.Select(r => (r.UserId, r.Role, r.Active)).ToList());
        Assert.Equal(MessageStatus.Sent, sent.Status);
        // The late event did not take the member for a new joiner and skip it past the message it has not read.
        Assert.True(cursor is null || cursor.ArrivedSeq == 0, $"the member's cursor moved to {cursor?.ArrivedSeq}");
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_leave_and_an_ended_friendship_applied_on_request_take_effect_before_the_answer()
    {
        await using var host = await MessagingHost.StartAsync();
        var group = MessagingHost.NewUserId();
        var (owner, leaver) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        var at = DateTimeOffset.UtcNow;
        await host.Harness.GetRequestClient<ApplyGroupMembers>().GetResponse<GroupMembersApplied>(
            new ApplyGroupMembers([new(group, owner, "owner", at), new(group, leaver, "member", at)]));
        await host.BefriendAsync(owner, leaver);

        var later = DateTimeOffset.UtcNow.AddSeconds(1);
        var left = await host.Harness.GetRequestClient<ApplyGroupMembers>().GetResponse<GroupMembersApplied>(
            new ApplyGroupMembers([], [new GroupMemberRemoved(group, leaver, later)]));
        await host.Harness.GetRequestClient<ApplyFriendship>().GetResponse<FriendshipApplied>(
            new ApplyFriendship(null, new FriendshipRemoved(owner, leaver, later)));
        await host.SubmitAsync(MessagingHost.Chat(leaver, group, "after-leaving", chatType: 1));
        await host.SubmitAsync(MessagingHost.Chat(leaver, owner, "after-unfriending"));
        var toGroup = (await host.AnswersAsync(leaver, "after-leaving")).Single();
        var toFormerFriend = (await host.AnswersAsync(leaver, "after-unfriending")).Single();

        Assert.Equal(1, left.Message.Count);
        Assert.Equal(MessageStatus.Fail, toGroup.Status);
        Assert.Equal(MessageStatus.Fail, toFormerFriend.Status);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Typing_is_relayed_to_a_friend_in_the_event_form_and_never_stored()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);

        await host.Harness.Bus.Publish(new RelayTyping(a, "ca", b, 0));
        var seen = await host.Pushes.WaitForAsync(all => all.Any(p => p.Push.UserId == b));

        var typing = seen.First(p => p.Push.UserId == b).Push.Message;
        Assert.Equal((4, a, b), (typing.MsgType, typing.FromUserId, typing.ToUserId));
        var data = JsonDocument.Parse(typing.Text()).RootElement.GetProperty("data");
        Assert.Equal(("TYPING", a.ToString()), (data.GetProperty("key").GetString(), data.GetProperty("user_id").GetString()));
        Assert.False(await host.DbAsync(db => db.Messages.AnyAsync(m => m.SenderId == a)));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Typing_to_a_stranger_or_a_group_one_is_not_in_is_dropped_and_group_typing_reaches_the_other_members()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, stranger, member, group) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.JoinGroupAsync(group, member);
        await host.JoinGroupAsync(group, a);

        var toStranger = new RelayTyping(a, "ca", stranger, 0);
        var intoOtherGroup = new RelayTyping(stranger, "cs", group, 1);
        var toGroup = new RelayTyping(a, "ca", group, 1);
        foreach (var typing in new[] { toStranger, intoOtherGroup, toGroup })
            await host.PublishAndWaitAsync(typing);
        // Presence is not warm here, so the push is published to both gateways: wait for g1's copy.
        var seen = await host.Pushes.WaitForAsync(all => all.Any(p => p.Gateway == MessagingHost.G1 && p.Push.UserId == member));

        Assert.DoesNotContain(seen, p => p.Push.UserId == stranger);
        Assert.Single(seen, p => p.Gateway == MessagingHost.G1 && p.Push.UserId == member);
        Assert.DoesNotContain(seen, p => p.Push.UserId == a);
        Assert.Equal((1, group), (seen.First(p => p.Push.UserId == member).Push.Message.ChatType, seen.First(p => p.Push.UserId == member).Push.Message.ToUserId));
        await host.WaitConsumedAsync<RelayTyping>(m => m == toStranger);
        host.AssertNoFaults();
    }
    [Fact]
    public async Task A_blocked_friends_messages_are_refused_as_not_allowed_and_their_typing_dropped_until_the_block_is_lifted()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        var at = DateTimeOffset.UtcNow;
        await host.PublishAndWaitAsync(new UserBlockChanged(b, a, true, at));
        // An older event coming late (unblocked before the block) changes nothing.
        await host.PublishAndWaitAsync(new UserBlockChanged(b, a, false, at.AddSeconds(-1)));

        var typing = new RelayTyping(a, "ca", b, 0);
        await host.PublishAndWaitAsync(typing);
        await host.SubmitAsync(MessagingHost.Chat(a, b, "blocked-1"), MessagingHost.Chat(b, a, "from-b"));
        var answers = await host.AnswersAsync(a, "blocked-1");
        await host.AnswersAsync(b, "from-b");

        Assert.Equal((MessageStatus.Fail, GroupWriter.NotAllowed), (answers[0].Status, answers[0].Error));
        // b's own message to a goes: the block is b's.
        Assert.True(await host.DbAsync(db => db.Messages.AnyAsync(m => m.ClientMsgId == "from-b")));
        Assert.False(await host.DbAsync(db => db.Messages.AnyAsync(m => m.ClientMsgId == "blocked-1")));
        Assert.DoesNotContain(host.Pushes.Snapshot(), p => p.Push.UserId == b && p.Push.Message.Event is TypingEvent);

        await host.PublishAndWaitAsync(new UserBlockChanged(b, a, false, at.AddSeconds(1)));
        await host.SubmitAsync(MessagingHost.Chat(a, b, "after"));
        Assert.Equal(MessageStatus.Sent, (await host.AnswersAsync(a, "after"))[0].Status);
        await host.PublishAndWaitAsync(typing with { ConnectionId = "ca2" });
        await host.Pushes.WaitForAsync(all => all.Any(p => p.Push.UserId == b && p.Push.Message.Event is TypingEvent));
        host.AssertNoFaults();
    }
}
