using EasyIm.Contracts.Messaging;
using MassTransit;
using MassTransit.RabbitMqTransport;

namespace EasyIm.Messaging.Partitions;

/// <summary>
/// This process's consumers of the chat partitions on RabbitMQ: the channel each consumes on, how many times each
/// has registered with the broker, and a gate that holds a partition's next batch while the partition is handed
/// over (<see cref="PartitionBalancer"/>).
/// <para>
/// A hand-over has the broker close the partition's channel instead of cancelling its consumer: on basic.cancel RabbitMQ makes
/// the next consumer in line active at once and delivers it what is ready in the queue, while the batches this
/// process had prefetched are still unacked here and would come back behind them, out of order. On a channel
/// close the broker requeues the channel's unacked messages to their places at the head and activates the next
/// consumer in the same step, so the next consumer starts exactly at the batch this one held back. MassTransit
/// then opens a new channel and consumes again, at the back of the line.
/// </para>
/// </summary>
public sealed class ChatPartitionConsumers
{
    internal sealed class Partition(int number)
    {
        public int Number { get; } = number;
        public readonly Lock Lock = new();
        public ChannelContext? Channel;
        /// <summary>Times the consumer became ready (registered with the broker) since the process started.</summary>
        public long Registrations;
        /// <summary>The other processes' registration counts heard when ours last became ready: we stand behind those.</summary>
        public IReadOnlyDictionary<string, long> Behind = new Dictionary<string, long>();
        /// <summary>Batches handed to the send pipeline since the channel opened.</summary>
        public long Taken;
        /// <summary>Consumes between passing the gate and having queued their batch.</summary>
        public int Submitting;
        public bool HandingOver;
        public TaskCompletionSource? Release;
    }

    private readonly Partition[] _partitions = Enumerable.Range(0, ChatPartitions.Count).Select(p => new Partition(p)).ToArray();

    /// <summary>Raised when a partition's consumer has registered again (its heartbeat should tell the others soon).</summary>
    public event Action? Registered;

    internal Partition this[int partition] => _partitions[partition];

    public long[] RegistrationCounts()
    {
        var counts = new long[ChatPartitions.Count];
        foreach (var p in _partitions)
            counts[p.Number] = Interlocked.Read(ref p.Registrations);
        return counts;
    }

    /// <summary>Whether this process currently has a channel consuming the partition (active or standing by).</summary>
    public bool IsConsuming(int partition)
    {
        var p = _partitions[partition];
        lock (p.Lock)
            return p.Channel is { Channel.IsOpen: true };
    }

    /// <summary>
    /// Whether this process's consumer of the partition registered after it had heard <paramref name="instanceId"/>'s
    /// registration number <paramref name="registration"/>, so stands behind it in the broker's line.
    /// </summary>
    public bool StandsBehind(int partition, string instanceId, long registration)
    {
        var p = _partitions[partition];
        lock (p.Lock)
            return p.Behind.TryGetValue(instanceId, out var heard) && heard == registration;
    }

    internal void Attached(int partition, ChannelContext channel)
    {
        var p = _partitions[partition];
        lock (p.Lock)
        {
            p.Channel = channel;
            p.Taken = 0;
        }
    }

    internal void Detached(int partition, ChannelContext channel)
    {
        var p = _partitions[partition];
        lock (p.Lock)
        {
            if (ReferenceEquals(p.Channel, channel))
                p.Channel = null;
        }
    }

    internal void Ready(int partition, IReadOnlyDictionary<string, long> heard)
    {
        var p = _partitions[partition];
        lock (p.Lock)
        {
            p.Behind = heard;
            p.Registrations++;
        }
        Registered?.Invoke();
    }

    /// <summary>
    /// Called by the partition's consumer before it queues a batch: false when the batch must not be queued,
    /// because the channel it came on is closed (handed over, or lost): the broker has requeued it for the next
    /// consumer, and this delivery cannot be acked. While a hand-over drains the partition, waits here.
    /// </summary>
    public async Task<bool> EnterAsync(int partition, ChannelContext? channel, CancellationToken cancellationToken)
    {
        var p = _partitions[partition];
        while (true)
        {
            Task wait;
            lock (p.Lock)
            {
                if (channel is { Channel.IsClosed: true })
                    return false;
                if (!p.HandingOver)
                {
                    p.Submitting++;
                    return true;
                }
                p.Release ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = p.Release.Task;
            }
            try
            {
                await wait.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (channel is { Channel.IsClosed: true })
            {
                // MassTransit cancels the consume when the channel closes, which may come before the release.
                return false;
            }
        }
    }

    /// <summary>
    /// Closes the partition's gate for a hand-over: its next batch waits in <see cref="EnterAsync"/>. False when
    /// the partition has no channel or is being handed over already.
    /// </summary>
    internal bool TryCloseGate(int partition, out ChannelContext channel)
    {
        var p = _partitions[partition];
        lock (p.Lock)
        {
            channel = p.Channel!;
            if (p.Channel is null || p.HandingOver)
                return false;
            p.HandingOver = true;
            return true;
        }
    }

    /// <summary>Batches between the gate and the send pipeline, and batches taken since the channel opened.</summary>
    internal (int Submitting, long Taken) Progress(int partition)
    {
        var p = _partitions[partition];
        lock (p.Lock)
            return (p.Submitting, p.Taken);
    }

    /// <summary>Opens the gate again and lets the held batch (if any) go on: queued if its channel is open, dropped if it closed.</summary>
    internal void OpenGate(int partition)
    {
        var p = _partitions[partition];
        TaskCompletionSource? release;
        lock (p.Lock)
        {
            p.HandingOver = false;
            release = p.Release;
            p.Release = null;
        }
        release?.TrySetResult();
    }

    /// <summary>The consumer has queued its batch (or failed to).</summary>
    public void Exit(int partition, bool taken)
    {
        var p = _partitions[partition];
        lock (p.Lock)
        {
            p.Submitting--;
            if (taken)
                p.Taken++;
        }
    }

    /// <summary>The endpoint observer that counts a partition's registrations.</summary>
    internal IReceiveEndpointObserver Observer(int partition, Func<int, IReadOnlyDictionary<string, long>> heard) => new ReadyObserver(this, partition, heard);

    private sealed class ReadyObserver(ChatPartitionConsumers owner, int partition, Func<int, IReadOnlyDictionary<string, long>> heard) : IReceiveEndpointObserver
    {
        public Task Ready(ReceiveEndpointReady ready)
        {
            owner.Ready(partition, heard(partition));
            return Task.CompletedTask;
        }

        public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;
        public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;
        public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;
    }
}

/// <summary>First in a chat partition endpoint's channel pipe: tells <see cref="ChatPartitionConsumers"/> which channel the partition consumes on, for as long as it does.</summary>
internal sealed class PartitionChannelFilter(ChatPartitionConsumers consumers, int partition) : IFilter<ChannelContext>
{
    public async Task Send(ChannelContext context, IPipe<ChannelContext> next)
    {
        consumers.Attached(partition, context);
        try
        {
            await next.Send(context);
        }
        finally
        {
            consumers.Detached(partition, context);
        }
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("chatPartitionChannel");
}
