using System.Reflection;
using EasyIm.Messaging.Partitions;
using MassTransit.RabbitMqTransport;
using RabbitMQ.Client;

namespace EasyIm.UnitTests.Messaging;

/// <summary>
/// The gate a chat partition's consumer passes before it queues a batch (<see cref="ChatPartitionConsumers"/>): while
/// the partition is handed over the batch waits, and once its channel is closed it is not queued (the broker has
/// requeued it for the next consumer). The channel is a stand-in that answers only whether it is closed.
/// </summary>
public sealed class ChatPartitionGateTests
{
    private const int P = 3;

    /// <summary>A <see cref="ChannelContext"/> whose <c>Channel.IsClosed</c> the test sets; any other member throws.</summary>
    public class FakeChannel : DispatchProxy
    {
        public bool Closed { get; set; }
        public object? Channel { get; set; }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
        {
            "get_Channel" => Channel,
            "get_IsClosed" => Closed,
            "get_IsOpen" => !Closed,
            _ => throw new NotSupportedException(targetMethod?.Name),
        };

        public static (ChannelContext Context, FakeChannel State) Create()
        {
            var channel = DispatchProxy.Create<IChannel, FakeChannel>();
            var state = (FakeChannel)(object)channel;
            var context = DispatchProxy.Create<ChannelContext, FakeChannel>();
            ((FakeChannel)(object)context).Channel = channel;
            return (context, state);
        }
    }

    private static (ChatPartitionConsumers Consumers, ChannelContext Channel, FakeChannel State) Attached()
    {
        var consumers = new ChatPartitionConsumers();
        var (channel, state) = FakeChannel.Create();
        consumers.Attached(P, channel);
        return (consumers, channel, state);
    }

    [Fact]
    public async Task An_open_gate_lets_batches_through_and_counts_them()
    {
        var (consumers, channel, _) = Attached();

        Assert.True(await consumers.EnterAsync(P, channel, CancellationToken.None));
        Assert.Equal((1, 0L), consumers.Progress(P));
        consumers.Exit(P, taken: true);

        Assert.Equal((0, 1L), consumers.Progress(P));
        Assert.True(consumers.IsConsuming(P));
    }

    [Fact]
    public async Task A_batch_held_at_the_gate_is_dropped_when_its_channel_closed_meanwhile()
    {
        var (consumers, channel, state) = Attached();
        Assert.True(consumers.TryCloseGate(P, out var closing));
        Assert.Same(channel, closing);
        Assert.False(consumers.TryCloseGate(P, out _)); // one hand-over at a time

        var held = consumers.EnterAsync(P, channel, CancellationToken.None);
        await Task.Delay(50);
        Assert.False(held.IsCompleted);

        state.Closed = true;
        consumers.OpenGate(P);
        Assert.False(await held.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal((0, 0L), consumers.Progress(P));
    }

    [Fact]
    public async Task A_batch_held_at_the_gate_goes_on_when_the_hand_over_is_given_up()
    {
        var (consumers, channel, _) = Attached();
        Assert.True(consumers.TryCloseGate(P, out _));

        var held = consumers.EnterAsync(P, channel, CancellationToken.None);
        consumers.OpenGate(P);

        Assert.True(await held.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal((1, 0L), consumers.Progress(P));
    }

    [Fact]
    public async Task A_batch_from_a_closed_channel_is_never_queued()
    {
        var (consumers, channel, state) = Attached();
        state.Closed = true;

        Assert.False(await consumers.EnterAsync(P, channel, CancellationToken.None));
        Assert.False(consumers.IsConsuming(P));
    }

    [Fact]
    public async Task A_held_batch_whose_consume_is_cancelled_is_dropped_if_its_channel_closed_and_cancelled_otherwise()
    {
        var (consumers, channel, state) = Attached();
        Assert.True(consumers.TryCloseGate(P, out _));

        using (var cancel = new CancellationTokenSource())
        {
            var held = consumers.EnterAsync(P, channel, cancel.Token);
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => held);
        }
        using (var cancel = new CancellationTokenSource())
        {
            var held = consumers.EnterAsync(P, channel, cancel.Token);
            state.Closed = true;
            await cancel.CancelAsync();
            Assert.False(await held.WaitAsync(TimeSpan.FromSeconds(10)));
        }
    }

    [Fact]
    public void Without_a_channel_there_is_nothing_to_hand_over()
    {
        var consumers = new ChatPartitionConsumers();
        Assert.False(consumers.TryCloseGate(P, out _));

        var (channel, _) = FakeChannel.Create();
        consumers.Attached(P, channel);
        consumers.Detached(P, channel);
        Assert.False(consumers.TryCloseGate(P, out _));
        Assert.False(consumers.IsConsuming(P));
    }

    [Fact]
    public void A_consumer_stands_behind_the_registrations_it_had_heard_when_it_registered()
    {
        var consumers = new ChatPartitionConsumers();
        var registered = 0;
        consumers.Registered += () => registered++;

        consumers.Ready(P, new Dictionary<string, long> { ["owner"] = 2 });

        Assert.Equal(1, registered);
        Assert.Equal(1, consumers.RegistrationCounts()[P]);
        Assert.True(consumers.StandsBehind(P, "owner", 2));
        Assert.False(consumers.StandsBehind(P, "owner", 3)); // the owner registered again since
        Assert.False(consumers.StandsBehind(P, "other", 1)); // not heard at all
        Assert.False(consumers.StandsBehind(P + 1, "owner", 2));
    }
}
