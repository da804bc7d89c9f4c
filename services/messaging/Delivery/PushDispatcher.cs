using System.Collections.Concurrent;
using System.Threading.Channels;
using EasyIm.Contracts.Gateway;
using EasyIm.Hosting;
using EasyIm.Hosting.Presence;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Messaging.Delivery;

/// <summary>
/// Turns a batch's pushes into as few bus messages as it can: one <see cref="PushToUsers"/> per target
/// gateway (sent to its own endpoint), plus one published to every gateway for what cannot be targeted.
/// <para>
/// Every gateway has its own queue and sender (a lane): a gateway whose sends hang or fail costs its own
/// pushes time, never another gateway's, and never the send path's (which only queues). A lane keeps its
/// gateway's pushes in order and sends what has queued up meanwhile as one bus message. A lane that is full
/// (<see cref="MessagingOptions.PushQueuePerGateway"/>) has the pushes that do not fit published to every
/// gateway instead; a lane idle for a minute is retired.
/// </para>
/// </summary>
public sealed class PushDispatcher(DeliveryRouter router, IBus bus, MessagingOptions options, TimeProvider time, ILogger<PushDispatcher> logger)
    : IAsyncDisposable, IDisposable
{
    /// <summary>Bounds a bus message's size whatever the batch.</summary>
    public const int MaxPushesPerMessage = GatewaySends.MaxPushesPerMessage;

    /// <summary>
    /// How a gateway's endpoint can be addressed. On RabbitMQ a send declares its destination, and a
    /// declaration that differs from the endpoint's own (durable vs temporary, exclusive) fails or never
    /// completes; so the configured form is tried first, then the other, and the one that works is kept
    /// per gateway. Sends go through the bus, not the consume context: on RabbitMQ the context's sends
    /// share the consuming channel, which a refused declaration closes, taking the message being consumed with it.
    /// <para>
    /// Only the temporary form is tried unasked: a send to <c>queue:gateway-{0}</c> declares a durable queue,
    /// and when it was tried for a gateway that had died (its temporary exchange gone, so the first form
    /// failed) it left a durable queue filling with that gateway's pushes until the lease ended, and a
    /// queue that a gateway restarted with the same id could not declare as its own. A gateway with a
    /// durable endpoint is addressed by configuring <c>Messaging:GatewayAddress</c> to <c>queue:gateway-{0}</c>.
    /// </para>
    /// </summary>
    private static readonly string[] KnownAddressForms = ["exchange:gateway-{0}?temporary=true"];
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan FallbackFor = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan LaneIdle = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RetryAfter = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan OverflowWarningEvery = TimeSpan.FromSeconds(10);

    private readonly string[] _addressForms = [options.GatewayAddress, .. KnownAddressForms.Where(f => f != options.GatewayAddress)];
    /// <summary>The address form that last worked for each gateway.</summary>
    private readonly ConcurrentDictionary<string, int> _formOf = new(StringComparer.Ordinal);
    /// <summary>One gateway at a time has its address form looked for (<see cref="TrySendAsync"/>).</summary>
    private readonly SemaphoreSlim _finding = new(1, 1);
    /// <summary>Gateways no address form reached, and until when their pushes are published instead.</summary>
    private readonly ConcurrentDictionary<string, DateTimeOffset> _unreachable = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Lane>> _lanes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _overflowWarned = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Pushes for one gateway, and whether they are sent (or published instead).</summary>
    private sealed record Item(IReadOnlyList<UserPush> Pushes, TaskCompletionSource Done);

    private sealed class Lane(int capacity)
    {
        public Channel<Item> Items { get; } = Channel.CreateBounded<Item>(
            new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        public volatile bool Retired;
        public Task Loop = Task.CompletedTask;
    }

    /// <summary>Routes and sends; completes once every push is sent or published.</summary>
    public Task DispatchAsync(ConsumeContext context, IReadOnlyList<OutgoingPush> pushes) =>
        DispatchAsync(pushes, context, context.CancellationToken);

    /// <param name="publisher">Where broadcasts are published: the consume context in a consumer, else the bus.</param>
    public async Task DispatchAsync(IReadOnlyList<OutgoingPush> pushes, IPublishEndpoint? publisher, CancellationToken cancellationToken)
    {
        var sent = await QueueAsync(pushes, publisher, cancellationToken);
        await sent.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Routes the pushes, queues each gateway's on its lane and publishes what goes to every gateway; returns
    /// once queued and published, with a task that completes when the lanes have sent theirs (or faults when
    /// publishing them instead failed).
    /// </summary>
    public async Task<Task> QueueAsync(IReadOnlyList<OutgoingPush> pushes, IPublishEndpoint? publisher, CancellationToken cancellationToken)
    {
        if (pushes.Count == 0)
            return Task.CompletedTask;
        publisher ??= bus;
        var plan = router.Plan(pushes);
        var broadcast = plan.Broadcast;
        List<Task>? sent = null;
        foreach (var (gateway, list) in plan.ByGateway)
        {
            if (Enqueue(gateway, list) is { } done)
                (sent ??= []).Add(done);
            else
                broadcast.AddRange(list);
        }
        foreach (var chunk in broadcast.Chunk(MaxPushesPerMessage))
            await publisher.Publish(new PushToUsers(chunk), cancellationToken);
        return sent switch
        {
            null => Task.CompletedTask,
            [var one] => one,
            _ => Task.WhenAll(sent),
        };
    }

    /// <summary>Pushes to one gateway's connections, bypassing presence (a replay to a gateway just heard from).</summary>
    public async Task SendToGatewayAsync(IPublishEndpoint publisher, string gateway, IReadOnlyList<UserPush> pushes, CancellationToken cancellationToken)
    {
        if (pushes.Count == 0)
            return;
        if (Enqueue(gateway, pushes) is { } done)
        {
            await done.WaitAsync(cancellationToken);
            return;
        }
        foreach (var chunk in pushes.Chunk(MaxPushesPerMessage))
            await publisher.Publish(new PushToUsers(chunk), cancellationToken);
    }

    /// <summary>
    /// Completes once everything queued on every lane before this call is sent (or published instead): a mark behind it on
    /// each lane, waiting for room on a full one (a full lane is exactly one whose pushes are still owed).
    /// </summary>
    public Task SentSoFarAsync() => Task.WhenAll(_lanes.Values.Where(l => l.IsValueCreated).Select(l => MarkAsync(l.Value)));

    private static async Task MarkAsync(Lane lane)
    {
        var mark = new Item([], new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            await lane.Items.Writer.WriteAsync(mark);
        }
        catch (ChannelClosedException)
        {
            // Retired (it sends what it holds, and had nothing left) or stopping: nothing to wait for here.
            return;
        }
        await mark.Done.Task;
    }

    /// <summary>Queues pushes on their gateway's lane; null when they must be published instead (unreachable, or the lane is full).</summary>
    private Task? Enqueue(string gateway, IReadOnlyList<UserPush> pushes)
    {
        if (_stopping.IsCancellationRequested)
            return null;
        if (_unreachable.TryGetValue(gateway, out var until) && until > time.GetUtcNow())
            return null;
        var item = new Item(pushes, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        while (true)
        {
            var lane = _lanes.GetOrAdd(gateway, static (g, self) => new Lazy<Lane>(() => self.Start(g)), this).Value;
            if (lane.Items.Writer.TryWrite(item))
                return item.Done.Task;
            if (lane.Retired || _stopping.IsCancellationRequested)
            {
                // Retired between the look-up and the write: the next look-up makes a new lane.
                if (_stopping.IsCancellationRequested)
                    return null;
                continue;
            }
            WarnFull(gateway, pushes.Count);
            return null;
        }
    }

    private void WarnFull(string gateway, int pushes)
    {
        EasyImTelemetry.PushQueueOverflows.Add(pushes);
        var now = time.GetUtcNow();
        if (_overflowWarned.TryGetValue(gateway, out var last) && now - last < OverflowWarningEvery)
            return;
        _overflowWarned[gateway] = now;
        logger.LogWarning("The push queue of gateway {GatewayId} is full ({Capacity}: its sends are slow or hanging); publishing its pushes to every gateway until it drains",
            gateway, options.PushQueuePerGateway);
    }

    private Lane Start(string gateway)
    {
        var lane = new Lane(options.PushQueuePerGateway);
        lane.Loop = Task.Run(() => RunLaneAsync(gateway, lane));
        return lane;
    }

    /// <summary>One gateway's sender: what has queued up goes as one bus message, in queue order.</summary>
    private async Task RunLaneAsync(string gateway, Lane lane)
    {
        var reader = lane.Items.Reader;
        var batch = new List<Item>();
        try
        {
            while (true)
            {
                batch.Clear();
                var count = 0;
                while (count < MaxPushesPerMessage && reader.TryRead(out var next))
                {
                    batch.Add(next);
                    count += next.Pushes.Count;
                }
                if (batch.Count == 0)
                {
                    if (!await WaitOrRetireAsync(gateway, lane))
                        return;
                    continue;
                }
                try
                {
                    if (count > 0)
                    {
                        var all = batch.Count == 1 ? batch[0].Pushes : batch.SelectMany(i => i.Pushes).ToList();
                        if (!await TrySendAsync(gateway, all, _stopping.Token))
                        {
                            foreach (var chunk in all.Chunk(MaxPushesPerMessage))
                                await bus.Publish(new PushToUsers(chunk), _stopping.Token);
                        }
                    }
                    foreach (var item in batch)
                        item.Done.TrySetResult();
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    throw;
                }
                catch (Exception ex)
                {
                    foreach (var item in batch)
                        item.Done.TrySetException(ex);
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            foreach (var item in batch)
                item.Done.TrySetCanceled(_stopping.Token);
            lane.Retired = true;
            lane.Items.Writer.TryComplete();
            while (reader.TryRead(out var left))
                left.Done.TrySetCanceled(_stopping.Token);
        }
    }

    /// <summary>Waits for the next push; after a minute without one, retires the lane (drained first). False once it is closed.</summary>
    private async Task<bool> WaitOrRetireAsync(string gateway, Lane lane)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        idle.CancelAfter(LaneIdle);
        try
        {
            return await lane.Items.Reader.WaitToReadAsync(idle.Token);
        }
        catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
        {
            // What was written before the lane is completed is still read; writers after it make a new lane.
            lane.Retired = true;
            if (_lanes.TryGetValue(gateway, out var current) && current.IsValueCreated && ReferenceEquals(current.Value, lane))
                _lanes.TryRemove(new KeyValuePair<string, Lazy<Lane>>(gateway, current));
            lane.Items.Writer.TryComplete();
            return await lane.Items.Reader.WaitToReadAsync(_stopping.Token);
        }
    }

    /// <summary>
    /// Sends by the gateway's address form that worked last (at first the configured one), concurrently with the other
    /// lanes. When that fails, the forms are tried one by one (twice over), one gateway at a time: on RabbitMQ a refused
    /// declaration (the wrong form) closes the channel other sends share, so a gateway found at its other form can make
    /// another lane's send fail once; that lane then finds its own form again here, after the first is done.
    /// </summary>
    private async Task<bool> TrySendAsync(string gateway, IReadOnlyList<UserPush> pushes, CancellationToken cancellationToken)
    {
        if (_unreachable.TryGetValue(gateway, out var until) && until > time.GetUtcNow())
            return false;
        // The form that worked last (at first the configured one) is tried by every lane at once: a gateway that hangs
        // holds up only its own lane here.
        if (await TrySendAtAsync(gateway, _formOf.GetValueOrDefault(gateway), pushes, cancellationToken))
            return true;
        await _finding.WaitAsync(cancellationToken);
        try
        {
            for (var round = 0; round < 2; round++)
            {
                if (round > 0)
                    await Task.Delay(RetryAfter, cancellationToken);
                for (var form = 0; form < _addressForms.Length; form++)
                {
                    if (!await TrySendAtAsync(gateway, form, pushes, cancellationToken))
                        continue;
                    if (form != 0)
                        logger.LogWarning("Gateway {GatewayId} is reachable at {Address}, not as {Setting} says; set it to {Form}",
                            gateway, string.Format(_addressForms[form], gateway), $"{MessagingOptions.Section}:{nameof(MessagingOptions.GatewayAddress)}", _addressForms[form]);
                    _formOf[gateway] = form;
                    return true;
                }
            }
        }
        finally
        {
            _finding.Release();
        }
        // Publishing still reaches it, at the cost of reaching every gateway.
        _formOf.TryRemove(gateway, out _);
        _unreachable[gateway] = time.GetUtcNow() + FallbackFor;
        logger.LogError("Could not send to gateway {GatewayId} at any of {Addresses}; publishing its pushes to every gateway for {Seconds} s",
            gateway, string.Join(", ", _addressForms.Select(f => string.Format(f, gateway))), FallbackFor.TotalSeconds);
        return false;
    }

    private async Task<bool> TrySendAtAsync(string gateway, int form, IReadOnlyList<UserPush> pushes, CancellationToken cancellationToken)
    {
        var address = string.Format(_addressForms[form], gateway);
        if (await GatewaySends.TrySendAsync(bus, address, pushes, SendTimeout, cancellationToken) is not { } error)
            return true;
        logger.LogDebug(error, "Could not send to gateway {GatewayId} at {Address}", gateway, address);
        return false;
    }

    /// <summary>Stops the lanes; what they still held is not sent (its senders resend, its recipients sync).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
            return;
        await _stopping.CancelAsync();
        var loops = _lanes.Values.Where(l => l.IsValueCreated).Select(l => l.Value.Loop).ToList();
        await Task.WhenAll(loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>Stops the lanes without waiting for them.</summary>
    public void Dispose() => _stopping.Cancel();
}
