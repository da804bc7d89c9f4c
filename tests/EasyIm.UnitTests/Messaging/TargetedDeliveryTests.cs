using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Consumers;
using MassTransit.Testing;

namespace EasyIm.UnitTests.Messaging;

/// <summary>Delivery once presence is warm: pushes sent to the gateways' own queues, and the no-gap invariant.</summary>
public sealed class TargetedDeliveryTests
{
    private static bool IsDone(UserPush push) => push.Message.MsgType == 4 && push.Message.Text().Contains("\"SYNC\"", StringComparison.Ordinal);

    [Fact]
    public async Task Once_warm_each_push_goes_only_to_its_users_gateway_in_one_bus_message_per_gateway()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.WarmAsync(onG1: [a], onG2: [b]);

        await host.SubmitAsync(MessagingHost.Chat(a, b, "t-1", "one"), MessagingHost.Chat(a, b, "t-2", "two"));
        await host.WaitConsumedAsync<SubmitChatMessages>();
        var seen = await host.Pushes.WaitForAsync(all => all.Count(p => p.Push.UserId == b) == 2 && all.Count(p => p.Push.OnlyConnectionId == $"c{a}") == 2);

        Assert.All(seen.Where(p => p.Push.UserId == b), p => Assert.Equal(MessagingHost.G2, p.Gateway));
        Assert.All(seen.Where(p => p.Push.UserId == a), p => Assert.Equal(MessagingHost.G1, p.Gateway));
        Assert.Equal(["one", "two"], seen.Where(p => p.Push.UserId == b).Select(p => p.Push.Message.Text()));
        Assert.Equal((1, 1), (host.Pushes.MessageCount(MessagingHost.G1), host.Pushes.MessageCount(MessagingHost.G2)));
        Assert.Empty(host.Harness.Published.Select<PushToUsers>());
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_recipient_with_no_connection_gets_nothing_pushed_until_its_connect_sync()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.WarmAsync(onG1: [a], onG2: []);

        await host.SubmitAsync(MessagingHost.Chat(a, b, "off-1", "while away"));
        await host.AnswersAsync(a, "off-1");
        await host.WaitConsumedAsync<SubmitChatMessages>();
        var beforeConnect = host.Pushes.Snapshot();
        await host.Harness.Bus.Publish(new UserConnected(b, MessagingHost.G2, "b-1", null, DateTimeOffset.UtcNow));
        var seen = await host.Pushes.WaitForAsync(all => all.Any(p => p.Push.OnlyConnectionId == "b-1" && IsDone(p.Push)));

        Assert.DoesNotContain(beforeConnect, p => p.Push.UserId == b);
        Assert.Contains(seen, p => p.Gateway == MessagingHost.G2 && p.Push.OnlyConnectionId == "b-1" && p.Push.Message.Text() == "while away");
        Assert.DoesNotContain(seen, p => p.Gateway == MessagingHost.G1 && p.Push.UserId == b);
        host.AssertNoFaults();
    }

    /// <summary>
    /// DESIGN's no-gap invariant in its worst interleaving, made deterministic: the replica that routes the
    /// sends learns of the connection only after the connect sync has read the database and more messages
    /// have been stored (its presence queue lags). Those messages are in no sync and were routed nowhere;
    /// the replica must hand them to the connection when it finally applies the connect.
    /// </summary>
    [Fact]
    public async Task Messages_stored_after_the_connect_sync_but_before_presence_catches_up_still_reach_the_connection()
    {
        var presenceHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await MessagingHost.StartAsync(beforePresence: async context =>
        {
            if (context.TryGetMessage<UserConnected>(out var connected) && connected.Message.ConnectionId == "b-late")
                await presenceHeld.Task.WaitAsync(TimeSpan.FromSeconds(30));
        });
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.WarmAsync(onG1: [a], onG2: []);
        async Task SendAsync(string phase)
        {
            var ids = Enumerable.Range(0, 10).Select(i => $"{phase}-{i}").ToArray();
            await host.SubmitAsync(ids.Select(id => MessagingHost.Chat(a, b, id, id)).ToArray());
            await host.AnswersAsync(a, ids);
        }

        await SendAsync("before");
        var registeredAt = host.Pushes.Mark();
        await host.Harness.Bus.Publish(new UserConnected(b, MessagingHost.G2, "b-late", null, DateTimeOffset.UtcNow));
        await host.Pushes.WaitForAsync(all => all.Any(p => p.Push.OnlyConnectionId == "b-late" && IsDone(p.Push)));
        await SendAsync("between");
        presenceHeld.SetResult();
        await SendAsync("after");

        bool Reached(ReceivedPush p) =>
            p.Gateway == MessagingHost.G2 && p.Push.UserId == b && p.Push.Message.MsgType == 0
            && (p.Push.OnlyConnectionId == "b-late" || (p.Push.OnlyConnectionId is null && p.Order > registeredAt));
        var seen = await host.Pushes.WaitForAsync(all => all.Where(Reached).Select(p => p.Push.Message.ClientMsgId).Distinct().Count() == 30);

        Assert.Equal(30, seen.Where(Reached).Select(p => p.Push.Message.ConversationSeq).Distinct().Count());
        host.AssertNoFaults();
    }

    /// <summary>
    /// DESIGN's no-gap invariant, raced: a user connects while a flood of messages to them is being stored.
    /// Presence (per replica), the connect sync and the sends run on separate endpoints concurrently; every
    /// message must reach the new connection by the sync, a replay, or a live push that arrived at its
    /// gateway after the connection was registered there.
    /// </summary>
    [Fact]
    public async Task A_connect_racing_a_flood_of_sends_misses_no_message()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.WarmAsync(onG1: [a], onG2: []);
        const int batches = 40, perBatch = 5;

        long registeredAt = 0;
        var flood = Task.Run(async () =>
        {
            for (var i = 0; i < batches; i++)
            {
                await host.SubmitAsync(Enumerable.Range(0, perBatch).Select(j => MessagingHost.Chat(a, b, $"race-{i}-{j}")).ToArray());
                if (i == batches / 4)
                {
                    // The gateway registers the connection, then publishes UserConnected.
                    Interlocked.Exchange(ref registeredAt, host.Pushes.Mark());
                    await host.Harness.Bus.Publish(new UserConnected(b, MessagingHost.G2, "b-race", null, DateTimeOffset.UtcNow));
                }
            }
        });
        await flood;

        bool ReachedConnection(ReceivedPush p) =>
            p.Gateway == MessagingHost.G2 && p.Push.UserId == b && p.Push.Message.ConversationSeq > 0 && p.Push.Message.MsgType == 0
            && (p.Push.OnlyConnectionId == "b-race" || (p.Push.OnlyConnectionId is null && p.Push.SkipConnectionId != "b-race" && p.Order > Interlocked.Read(ref registeredAt)));
        var seen = await host.Pushes.WaitForAsync(all => all.Where(ReachedConnection).Select(p => p.Push.Message.ConversationSeq).Distinct().Count() == batches * perBatch,
            TimeSpan.FromSeconds(60));

        Assert.Equal(Enumerable.Range(1, batches * perBatch).Select(i => (ulong)i),
            seen.Where(ReachedConnection).Select(p => p.Push.Message.ConversationSeq).Distinct().Order());
        host.AssertNoFaults();
    }
}
