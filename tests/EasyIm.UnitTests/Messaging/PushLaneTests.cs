using EasyIm.Contracts.Gateway;
using EasyIm.Messaging.Sending;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Messaging;

/// <summary>
/// Messaging sends to each gateway from a queue of its own (<c>PushDispatcher</c>'s lanes): a gateway whose sends
/// hang holds up its own pushes only, not another gateway's and not the send path.
/// </summary>
public sealed class PushLaneTests
{
    /// <summary>Holds every send of a push to one gateway's endpoint until released (a broker that stopped taking them).</summary>
    private sealed class HoldSends(string gateway) : ISendObserver
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _held;

        public int Held => Volatile.Read(ref _held);

        public void Release() => _release.TrySetResult();

        public async Task PreSend<T>(SendContext<T> context) where T : class
        {
            if (context.Message is PushToUsers && context.DestinationAddress?.AbsolutePath.EndsWith($"gateway-{gateway}", StringComparison.Ordinal) == true)
            {
                Interlocked.Increment(ref _held);
                await _release.Task.WaitAsync(TimeSpan.FromSeconds(60));
            }
        }

        public Task PostSend<T>(SendContext<T> context) where T : class => Task.CompletedTask;

        public Task SendFault<T>(SendContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }

    private static bool Got(IReadOnlyList<ReceivedPush> all, long user, string gateway, string text) =>
        all.Any(p => p.Push.UserId == user && p.Gateway == gateway && p.Push.OnlyConnectionId is null && p.Push.Message.Text() == text);

    [Fact]
    public async Task A_gateway_whose_sends_hang_holds_up_neither_another_gateways_pushes_nor_later_groups()
    {
        await using var host = await MessagingHost.StartAsync();
        var (a, b, d) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.BefriendAsync(d, b);
        await host.WarmAsync(onG1: [a], onG2: [b, d]);
        var hold = new HoldSends(MessagingHost.G1);
        using var observer = host.Harness.Bus.ConnectSendObserver(hold);
        try
        {
            // a's ack goes to the hanging g1 first; b's copy to g2 must not wait for it.
            await host.SubmitFromAsync(MessagingHost.G1, MessagingHost.Chat(a, b, "lane-1", "from a"));
            await host.Pushes.WaitForAsync(all => Got(all, b, MessagingHost.G2, "from a"));
            // Nor the next group, from another sender on g2.
            await host.SubmitFromAsync(MessagingHost.G2, MessagingHost.Chat(d, b, "lane-2", "from d"));
            await host.AnswersAsync(d, "lane-2");
            var whileHeld = await host.Pushes.WaitForAsync(all => Got(all, b, MessagingHost.G2, "from d"));

            Assert.Equal(1, hold.Held);
            Assert.DoesNotContain(whileHeld, p => p.Push.UserId == a);
        }
        finally
        {
            hold.Release();
        }
        var acked = await host.AnswersAsync(a, "lane-1");
        Assert.Equal("from a", acked[0].Text());
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Pushes_that_find_their_gateways_queue_full_are_published_to_every_gateway_and_none_is_lost()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:PushQueuePerGateway"] = "1" });
        var (a, b) = (MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.WarmAsync(onG1: [a], onG2: [b]);
        var hold = new HoldSends(MessagingHost.G1);
        using var observer = host.Harness.Bus.ConnectSendObserver(hold);
        var ids = Enumerable.Range(1, 4).Select(i => $"full-{i}").ToArray();
        try
        {
            // One group each (b's copy on g2 is waited for before the next): g1's lane holds one send in flight and
            // one queued; the acks that do not fit are published.
            foreach (var id in ids)
            {
                await host.SubmitFromAsync(MessagingHost.G1, MessagingHost.Chat(a, b, id, id));
                await host.Pushes.WaitForAsync(all => Got(all, b, MessagingHost.G2, id));
            }
            var published = host.Harness.Published.Select<PushToUsers>()
                .Count(m => m.Context.Message.Pushes.Any(p => p.UserId == a && p.Message.ClientMsgId is not null));
            Assert.True(published >= 2, $"{published} of the 4 acks were published to every gateway; at least 2 could not fit");
            Assert.Equal(1, hold.Held);
        }
        finally
        {
            hold.Release();
        }
        var answers = await host.AnswersAsync(a, ids);
        Assert.Equal(ids, answers.Select(m => m.Text()));
        host.AssertNoFaults();
    }
    [Fact]
    public async Task A_barrier_waits_for_the_pushes_of_a_full_lane()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:PushQueuePerGateway"] = "1" });
        var (a, b, d) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.BefriendAsync(d, b);
        await host.WarmAsync(onG1: [a], onG2: [b, d]);
        var hold = new HoldSends(MessagingHost.G1);
        using var observer = host.Harness.Bus.ConnectSendObserver(hold);
        Task barrier;
        try
        {
            // g1's lane: one send held, one queued; it is full.
            foreach (var id in new[] { "bar-1", "bar-2" })
            {
                await host.SubmitFromAsync(MessagingHost.G1, MessagingHost.Chat(a, b, id, id));
                await host.Pushes.WaitForAsync(all => Got(all, b, MessagingHost.G2, id));
            }
            barrier = host.Services.GetRequiredService<SendPipeline>().BarrierAsync(CancellationToken.None);
            // A group after the barrier's, to g2 only: once it is delivered, the barrier's group has been dispatched.
            await host.SubmitFromAsync(MessagingHost.G2, MessagingHost.Chat(d, b, "bar-after", "after"));
            await host.Pushes.WaitForAsync(all => Got(all, b, MessagingHost.G2, "after"));

            Assert.False(barrier.IsCompleted, "the barrier completed while the pushes queued on a full lane before it were still held");
        }
        finally
        {
            hold.Release();
        }
        await barrier.WaitAsync(PushLog.DefaultTimeout);
        await host.AnswersAsync(a, "bar-1", "bar-2");
        host.AssertNoFaults();
    }
}
