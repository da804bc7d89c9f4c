using System.Diagnostics;
using EasyIm.Contracts.Messaging;
using EasyIm.Hosting;
using EasyIm.Messaging.Sending;
using MassTransit;
using RabbitMQ.Client.Exceptions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Messaging.Partitions;

/// <summary>
/// Spreads the chat partitions' active consumers over the live messaging processes (RabbitMQ only). Every process
/// consumes every partition, so that when the active one dies the broker hands the partition to a standby at
/// once; the broker makes active whichever registered first. This service publishes this process's heartbeat
/// (<see cref="MessagingInstanceHeartbeat"/>), and for each partition some other live process owns
/// (<see cref="PartitionOwners"/>) it makes sure this process stands behind the owner in the line: when its
/// consumer registered before it had heard the owner's current registration, it hands the partition over.
/// <para>
/// A hand-over: the partition's gate holds its next batch (unacked); once the batches it took before are stored
/// (<see cref="SendPipeline.BarrierAsync"/>), the broker closes its channel (asked about a queue that does not
/// exist). The broker requeues what the channel held, in place, and makes the next consumer in line active in the
/// same step (see <see cref="ChatPartitionConsumers"/>); MassTransit consumes again on a new channel, at the back
/// of the line. The next consumer's <see cref="SubmissionChain"/> finds every earlier message of each connection
/// stored, so no sender is refused.
/// </para>
/// </summary>
public sealed class PartitionBalancer(
    MessagingInstance self,
    InstanceMembership membership,
    ChatPartitionConsumers consumers,
    SendPipeline pipeline,
    IBus bus,
    MessagingOptions options,
    TimeProvider time,
    ILogger<PartitionBalancer> logger) : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);
    /// <summary>A partition is not handed over again sooner than this (its consumer needs a moment to register again).</summary>
    private static readonly TimeSpan HandOverEvery = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(10);

    private readonly long[] _lastHandOver = Enumerable.Repeat(long.MinValue, ChatPartitions.Count).ToArray();
    private readonly Task?[] _handOvers = new Task?[ChatPartitions.Count];
    private int _beatSoon = 1;

    /// <summary>Publish this process's heartbeat at the next tick (a process joined, or a consumer registered again).</summary>
    public void BeatSoon() => Volatile.Write(ref _beatSoon, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        consumers.Registered += BeatSoon;
        membership.Joined += BeatSoon;
        // The first heartbeat once the bus consumes (a partition's consumer registered), so that it names a registration.
        while (consumers.RegistrationCounts().All(c => c == 0))
            await Task.Delay(Tick, stoppingToken);
        logger.LogInformation("Messaging instance {InstanceId} shares the chat partitions with the other live instances", self.Id);
        using var timer = new PeriodicTimer(Tick, time);
        var lastBeat = long.MinValue;
        var beatEvery = TimeSpan.FromSeconds(options.InstanceHeartbeatSeconds);
        try
        {
            do
            {
                if (Interlocked.Exchange(ref _beatSoon, 0) == 1 || lastBeat == long.MinValue || time.GetElapsedTime(lastBeat) >= beatEvery)
                {
                    lastBeat = time.GetTimestamp();
                    await BeatAsync(stoppingToken);
                }
                Rebalance(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            consumers.Registered -= BeatSoon;
            membership.Joined -= BeatSoon;
        }
    }

    private async Task BeatAsync(CancellationToken cancellationToken)
    {
        try
        {
            await bus.Publish(new MessagingInstanceHeartbeat(self.Id, self.StartedAt, consumers.RegistrationCounts(), time.GetUtcNow()), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Could not publish the heartbeat of messaging instance {InstanceId}", self.Id);
        }
    }

    private void Rebalance(CancellationToken cancellationToken)
    {
        var others = membership.Others();
        if (others.Count == 0)
            return;
        var live = PartitionOwners.Sort([self.Id, .. others]);
        for (var partition = 0; partition < ChatPartitions.Count; partition++)
        {
            if (_handOvers[partition] is { IsCompleted: false })
                continue;
            var owner = PartitionOwners.Owner(live, partition);
            if (owner == self.Id || !consumers.IsConsuming(partition))
                continue;
            var ownerRegistration = membership.Registration(owner, partition);
            if (ownerRegistration == 0)
                continue; // the owner has no consumer there yet: it will register behind us, and tell us
            if (consumers.StandsBehind(partition, owner, ownerRegistration))
                continue;
            if (_lastHandOver[partition] != long.MinValue && time.GetElapsedTime(_lastHandOver[partition]) < HandOverEvery)
                continue;
            _lastHandOver[partition] = time.GetTimestamp();
            _handOvers[partition] = HandOverAsync(partition, owner, cancellationToken);
        }
    }

    /// <summary>Drains the partition and closes its channel, so that its consumer registers again behind <paramref name="owner"/>'s.</summary>
    internal async Task HandOverAsync(int partition, string owner, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        if (!consumers.TryCloseGate(partition, out var channel))
            return;
        var closed = false;
        try
        {
            using var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            drain.CancelAfter(DrainTimeout);
            // The batch being queued now goes first; the next one waits at the gate, unacked.
            var (submitting, taken) = consumers.Progress(partition);
            while (submitting > 0)
            {
                await Task.Delay(5, drain.Token);
                (submitting, taken) = consumers.Progress(partition);
            }
            // Always, even when nothing was taken on this channel: an earlier channel's batches may still be queued.
            await pipeline.BarrierAsync(drain.Token);

            // The broker closes the channel: asked about a queue that does not exist, it closes the channel with
            // 404, and the channel's process ends as if the client had closed it (requeue and activation in one
            // step). Closing it from here (IChannel.CloseAsync) raced with MassTransit disposing the channel on its
            // shutdown event, and RabbitMQ.Client then sent a channel.close on channel 0, which made the broker end
            // the whole connection (every endpoint of the process reconnected).
            try
            {
                await channel.Channel.QueueDeclarePassiveAsync($"easyim-handover-{Guid.NewGuid():N}", CancellationToken.None)
                    .WaitAsync(CloseTimeout, CancellationToken.None);
            }
            catch (Exception ex) when (ex is OperationInterruptedException or AlreadyClosedException or ObjectDisposedException or TimeoutException)
            {
                // Expected: the 404 closes the channel (and MassTransit may dispose it before the call has returned).
            }
            closed = channel.Channel.IsClosed;
            // Released only now: the held batch sees its channel closed and is not queued (the broker requeued it).
            consumers.OpenGate(partition);
            if (!closed)
            {
                logger.LogWarning("The channel of chat partition {Partition} did not close; it is handed over later", partition);
                return;
            }
            EasyImTelemetry.PartitionHandOvers.Add(1);
            logger.LogInformation(
                "Handed chat partition {Partition} over to messaging instance {Owner} after {Taken} batches, drained in {Elapsed} ms; consuming it again as a standby",
                partition, owner, taken, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (OperationCanceledException) when (!closed)
        {
            if (!cancellationToken.IsCancellationRequested)
                logger.LogWarning("Chat partition {Partition} was not handed over to {Owner}: its batches were not stored within {Timeout} s; it is tried again later",
                    partition, owner, DrainTimeout.TotalSeconds);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Handing chat partition {Partition} over to {Owner} failed; it is tried again later", partition, owner);
        }
        finally
        {
            consumers.OpenGate(partition);
        }
    }
}
