using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using Microsoft.EntityFrameworkCore;
using MassTransit;

namespace EasyIm.UnitTests.Messaging;

/// <summary>
/// The send path never waits for the friends service: a message whose relationship messaging's projection does not
/// hold is set aside with the later messages of its connection while friends is asked, and everyone else's messages
/// are stored meanwhile. The answer decides; the connection's order holds.
/// </summary>
public sealed class DeferredAuthorizationTests
{
    /// <summary>A friends service that answers only when the test lets it, with the answer the test gives.</summary>
    private sealed class SlowFriends(Func<RelationshipQuery, bool> related)
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<RelationshipQuery> _asked = [];

        public void Release() => _release.TrySetResult();

        public IReadOnlyList<RelationshipQuery> Asked
        {
            get
            {
                lock (_asked)
                    return [.. _asked];
            }
        }

        public void AddTo(IBusRegistrationConfigurator bus) => bus.AddHandler<CheckRelationships>(async context =>
        {
            lock (_asked)
                _asked.AddRange(context.Message.Queries);
            await _release.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await context.RespondAsync(new RelationshipsChecked(context.Message.Queries
                .Select(q => new RelationshipAnswer(q.UserId, q.OtherId, q.IsGroup, related(q))).ToList()));
        });
    }

    private static Task<MessagingHost> StartAsync(SlowFriends friends) =>
        // The answer comes when the test says: far inside this.
        MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:RelationshipCheckTimeoutMs"] = "30000" }, configureBus: friends.AddTo);

    private static long OrderOfAnswer(IReadOnlyList<ReceivedPush> all, long sender, string clientMsgId) =>
        all.First(p => p.Push.UserId == sender && p.Push.OnlyConnectionId == $"c{sender}" && p.Push.Message.ClientMsgId == clientMsgId).Order;

    [Fact]
    public async Task A_slow_answer_from_friends_holds_up_only_the_connection_that_waits_for_it_and_its_order_holds()
    {
        var friends = new SlowFriends(_ => true);
        await using var host = await StartAsync(friends);
        var (a, newFriend, oldFriend) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        var (c, d) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, oldFriend);
        await host.BefriendAsync(c, d);
        try
        {
            // One batch: a's message to a friend the projection has not heard of, then one to a known friend (which must
            // not overtake it), then a bystander's.
            await host.SubmitAsync(
                MessagingHost.Chat(a, newFriend, "wait-1", "to the new friend"),
                MessagingHost.Chat(a, oldFriend, "wait-2", "to the old friend"),
                MessagingHost.Chat(c, d, "free-1", "bystander"));
            var bystander = (await host.AnswersAsync(c, "free-1")).Single();
            Assert.Equal(MessageStatus.Sent, bystander.Status);
            // A later batch of the waiting connection waits too.
            await host.SubmitAsync(MessagingHost.Chat(a, oldFriend, "wait-3", "to the old friend again"), MessagingHost.Chat(c, d, "free-2", "bystander"));
            await host.AnswersAsync(c, "free-2");

            Assert.DoesNotContain(host.Pushes.Snapshot(), p => p.Push.UserId == a || p.Push.UserId == oldFriend || p.Push.UserId == newFriend);
            Assert.Equal([new RelationshipQuery(a, newFriend, false)], friends.Asked);
        }
        finally
        {
            friends.Release();
        }

        var answers = await host.AnswersAsync(a, "wait-1", "wait-2", "wait-3");
        Assert.All(answers, m => Assert.Equal(MessageStatus.Sent, m.Status));
        // Stored in the order sent: the old friend's conversation numbers wait-2 before wait-3, and the acks come in order.
        Assert.Equal([1UL, 2UL], answers.Skip(1).Select(m => m.ConversationSeq));
        var all = host.Pushes.Snapshot();
        Assert.True(OrderOfAnswer(all, a, "wait-1") < OrderOfAnswer(all, a, "wait-2"));
        Assert.True(OrderOfAnswer(all, a, "wait-2") < OrderOfAnswer(all, a, "wait-3"));
        Assert.Single(friends.Asked);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_no_from_friends_refuses_only_the_message_it_was_about_and_the_connections_next_messages_are_stored_after_it()
    {
        var friends = new SlowFriends(_ => false);
        friends.Release();
        await using var host = await StartAsync(friends);
        var (a, stranger, friend) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, friend);

        await host.SubmitAsync(
            MessagingHost.Chat(a, stranger, "no-1", "to a stranger"),
            MessagingHost.Chat(a, friend, "no-2", "to a friend"),
            MessagingHost.Chat(a, friend, "no-3", "to a friend again"));

        var answers = await host.AnswersAsync(a, "no-1", "no-2", "no-3");
        Assert.Equal(MessageStatus.Fail, answers[0].Status);
        Assert.Equal("you can only send messages to your friends", answers[0].Error);
        Assert.Equal([MessageStatus.Sent, MessageStatus.Sent], answers.Skip(1).Select(m => m.Status));
        Assert.Equal([1UL, 2UL], answers.Skip(1).Select(m => m.ConversationSeq));
        Assert.False(await host.DbAsync(db => db.Messages.AnyAsync(m => m.SenderId == a && m.ToId == stranger)));
        Assert.DoesNotContain(host.Pushes.Snapshot(), p => p.Push.UserId == stranger);
        host.AssertNoFaults();
    }
}
