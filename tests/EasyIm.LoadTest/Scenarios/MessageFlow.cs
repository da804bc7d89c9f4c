using System.Diagnostics;
using EasyIm.LoadTest.Measuring;
using EasyIm.LoadTest.Targets;
using EasyIm.LoadTest.Wire;
using HdrHistogram;

namespace EasyIm.LoadTest.Scenarios;

/// <summary>How a run sends: the mode, the timing, and the receipts the receivers send.</summary>
/// <param name="Rate">Rate mode: messages a second offered by all senders together.</param>
/// <param name="Window">Max mode: messages each sender keeps awaiting their SENT ack.</param>
/// <param name="Drain">After sending stops, how long to wait at most for the last acks and deliveries.</param>
/// <param name="MaxInFlight">Rate mode: a sender with this many messages awaiting their ack skips its next ones (it fell behind).</param>
public sealed record FlowSettings(
    SendMode Mode, double Rate, int Window, TimeSpan Warmup, TimeSpan Duration, TimeSpan Drain,
    bool Receipts, TimeSpan ReceiptInterval, int MaxInFlight);

/// <summary>One sender and the connections that must receive each of its messages.</summary>
public sealed record FlowStream(FlowSender Sender, IReadOnlyList<FlowReceiver> Recipients);

/// <summary>What a run of a <see cref="MessageFlow"/> measured.</summary>
public sealed record FlowResult(
    string System,
    DeliveryTally Tally,
    double OfferedPerSecond,
    double DeliveredPerSecond,
    HistogramBase Latency,
    HistogramBase AckLatency,
    TimeSpan ServerCpu,
    TimeSpan ClientCpu,
    double MachineBusy,
    int SendersBehind,
    long NotSentMeasured,
    int Notifies,
    string? FirstNotify,
    string? FirstFailure,
    int ClosedByServer,
    string? FirstCloseReason,
    TimeSpan DrainTime,
    bool Drained,
    IReadOnlyList<string> ProcessExits,
    IReadOnlyList<string> Evidence)
{
    /// <summary>Server CPU per delivered message in the measured interval, µs.</summary>
    public double? ServerMicrosPerDelivery => Deliveries > 0 ? ServerCpu.TotalMicroseconds / Deliveries : null;

    public double? ClientMicrosPerDelivery => Deliveries > 0 ? ClientCpu.TotalMicroseconds / Deliveries : null;

    public long Deliveries { get; init; }

    /// <summary>Receipt frames (ARRIVED, READ) the senders got in the measured interval.</summary>
    public long ReceiptFramesAtSenders { get; init; }

    /// <summary>The length of the measured interval.</summary>
    public TimeSpan Measured { get; init; }
}

/// <summary>
/// Runs the senders and receivers of a scenario through warm-up, the measured interval and the
/// drain, then counts. Everything is bounded: sending stops at the end of the measured interval,
/// the drain waits at most <see cref="FlowSettings.Drain"/>, connections are closed at the end.
/// </summary>
public sealed class MessageFlow(FlowSettings settings, FlowContext context, IReadOnlyList<FlowStream> streams, ILoadTarget target, TextWriter progress)
{
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(5);

    /// <param name="alongside">Work that runs beside the flow on its clock (the abuse scenario's attacks): started
    /// with it, awaited after the drain, before the flow's connections close. It must end by itself.</param>
    public async Task<FlowResult> RunAsync(IReadOnlyList<LoadConnection> connections, CancellationToken cancellationToken,
        Func<FlowClock, CancellationToken, Task>? alongside = null)
    {
        // Starts a moment from now, so every sender starts on the same schedule.
        var clock = context.Clock = new FlowClock(Stopwatch.GetTimestamp() + Stopwatch.Frequency / 50, settings.Warmup, settings.Duration);
        var senders = streams.Select(s => s.Sender).ToList();
        var receivers = streams.SelectMany(s => s.Recipients).Distinct().ToList();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var receipts = settings.Receipts ? SendReceiptsAsync(receivers, stop.Token) : Task.CompletedTask;
        var beside = alongside?.Invoke(clock, stop.Token) ?? Task.CompletedTask;

        await DelayUntilAsync(clock.Start, cancellationToken);
        Task scheduling = Task.CompletedTask;
        if (settings.Mode == SendMode.Max)
        {
            var now = Stopwatch.GetTimestamp();
            foreach (var sender in senders)
            {
                for (var i = 0; i < settings.Window; i++)
                    sender.Send(now);
                sender.Connection.Flush();
            }
        }
        else
        {
            scheduling = ScheduleAsync(senders, stop.Token);
        }

        await WaitWithProgressAsync("warm-up", clock.WarmupEnd, senders, receivers, cancellationToken);
        var serverCpu0 = target.CpuTime();
        var clientCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var machine0 = ProcFs.MachineCpu();
        await WaitWithProgressAsync("measuring", clock.MeasureEnd, senders, receivers, cancellationToken);
        var serverCpu = target.CpuTime() - serverCpu0;
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientCpu0;
        var machine1 = ProcFs.MachineCpu();
        var machineBusy = machine1.Total > machine0.Total ? (double)(machine1.Busy - machine0.Busy) / (machine1.Total - machine0.Total) : 0;

        await scheduling;
        var drainWatch = Stopwatch.StartNew();
        var drained = Drained();
        while (!drained && drainWatch.Elapsed < settings.Drain)
        {
            await Task.Delay(20, cancellationToken);
            drained = Drained();
        }
        var drainTime = drainWatch.Elapsed;
        await beside;
        await stop.CancelAsync();
        await receipts;

        var closedByServer = connections.Where(c => c.IsClosed && !c.ClosedByClient).ToList();
        // Closing waits for each receive loop to end, so every ledger is final before it is counted.
        await Task.WhenAll(connections.Select(c => c.CloseAsync(TimeSpan.FromSeconds(2))));

        var tally = default(DeliveryTally);
        foreach (var stream in streams)
            tally += DeliveryTally.Of(stream.Sender.Ledger, [.. stream.Recipients.Select(r => r.Ledger)]);
        var seconds = settings.Duration.TotalSeconds;
        var deliveries = receivers.Sum(r => r.DeliveredInWindow);
        return new FlowResult(
            target.Name, tally, tally.Sent / seconds, deliveries / seconds, context.Latency, context.AckLatency,
            serverCpu, clientCpu, machineBusy,
            senders.Count(s => s.NotSent > 0), senders.Sum(s => s.NotSentMeasured),
            context.Notifies, context.FirstNotify, senders.Select(s => s.FirstFailure).FirstOrDefault(f => f is not null),
            closedByServer.Count, closedByServer.Select(c => c.CloseReason).FirstOrDefault(),
            drainTime, drained, [.. target.UnexpectedExits()], Evidence())
        {
            Deliveries = deliveries,
            Measured = settings.Duration,
            ReceiptFramesAtSenders = senders.Sum(s => Interlocked.Read(ref s.ReceiptFramesMeasured)),
        };
    }

    /// <summary>The first case of each kind of trouble, with the users involved: what to look for in the server's logs and tables.</summary>
    private List<string> Evidence()
    {
        var evidence = new List<string>();
        string? lost = null, ackOrder = null, outOfOrder = null, duplicate = null, storedTwice = null;
        foreach (var stream in streams)
        {
            var sender = stream.Sender;
            var from = sender.Connection.UserId;
            ackOrder ??= sender.Ledger.FirstAckOrderViolation() is { } a ? $"acks to user {from}: {a}" : null;
            foreach (var recipient in stream.Recipients)
            {
                var to = recipient.Connection.UserId;
                outOfOrder ??= recipient.Ledger.FirstOutOfOrder is { } o ? $"from user {from} to user {to}: {o}" : null;
                duplicate ??= recipient.Ledger.FirstDuplicate is { } d ? $"from user {from} to user {to}: {d}" : null;
                storedTwice ??= recipient.Ledger.FirstStoredTwice is { } s ? $"from user {from} to user {to}: {s}" : null;
                if (lost is not null)
                    continue;
                for (var k = 0; k < sender.Ledger.Count; k++)
                {
                    if (sender.Ledger.IsMeasured(k) && sender.Ledger.IsAcked(k) && !recipient.Ledger.Has(k))
                    {
                        lost = $"message {k} from user {from} (id {sender.Ledger.AckedId(k)}) never reached user {to}";
                        break;
                    }
                }
            }
        }
        foreach (var (kind, text) in new[] { ("first lost", lost), ("first out of order at a recipient", outOfOrder), ("first ack out of send order", ackOrder),
                     ("first duplicate", duplicate), ("first stored twice", storedTwice) })
        {
            if (text is not null)
                evidence.Add($"{kind}: {text}");
        }
        return evidence;
    }

    /// <summary>Every measured message answered, and every acked one at each of its recipients.</summary>
    private bool Drained()
    {
        foreach (var stream in streams)
        {
            var ledger = stream.Sender.Ledger;
            if (ledger.MeasuredAcked + ledger.MeasuredFailed < ledger.MeasuredSent)
                return false;
            foreach (var recipient in stream.Recipients)
            {
                if (recipient.Ledger.Delivered < ledger.MeasuredAcked)
                    return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Rate mode: every sender has a fixed schedule (its share of the rate, senders spread evenly
    /// over the interval), checked every millisecond. A message is stamped with the time it was
    /// due, not the time it left, so a late tick or a slow server shows as latency (no coordinated
    /// omission). A sender whose awaiting-ack count reached the cap skips what falls due and is
    /// reported as having fallen behind.
    /// </summary>
    private async Task ScheduleAsync(List<FlowSender> senders, CancellationToken cancellationToken)
    {
        var clock = context.Clock;
        var interval = Stopwatch.Frequency * senders.Count / settings.Rate;
        var next = new double[senders.Count];
        for (var i = 0; i < senders.Count; i++)
            next[i] = clock.Start + interval * i / senders.Count;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(1));
        while (true)
        {
            var now = Stopwatch.GetTimestamp();
            var pending = false;
            for (var i = 0; i < senders.Count; i++)
            {
                var sender = senders[i];
                var sent = false;
                while (next[i] <= now && next[i] < clock.MeasureEnd)
                {
                    var due = (long)next[i];
                    if (sender.Ledger.InFlight >= settings.MaxInFlight)
                    {
                        sender.NotSent++;
                        if (clock.InWindow(due))
                            sender.NotSentMeasured++;
                    }
                    else
                    {
                        sender.Send(due);
                        sent = true;
                    }
                    next[i] += interval;
                }
                if (sent)
                    sender.Connection.Flush();
                pending |= next[i] < clock.MeasureEnd;
            }
            if (!pending)
                return;
            try
            {
                await timer.WaitForNextTickAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task SendReceiptsAsync(List<FlowReceiver> receivers, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(settings.ReceiptInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                foreach (var receiver in receivers)
                    receiver.SendReceipt();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task WaitWithProgressAsync(string phase, long until, List<FlowSender> senders, List<FlowReceiver> receivers, CancellationToken cancellationToken)
    {
        while (true)
        {
            var left = TimeSpan.FromSeconds((double)(until - Stopwatch.GetTimestamp()) / Stopwatch.Frequency);
            if (left <= TimeSpan.Zero)
                return;
            if (left < ProgressEvery)
            {
                await Task.Delay(left, cancellationToken);
                continue;
            }
            await Task.Delay(ProgressEvery, cancellationToken);
            {
                var sent = senders.Sum(s => (long)s.Ledger.Count);
                var received = receivers.Sum(r => r.DeliveredInWindow);
                await progress.WriteLineAsync($"  {target.Name}: {phase}, {sent:N0} sent so far{(phase == "measuring" ? $", {received:N0} delivered in the measured interval" : "")}");
            }
        }
    }

    private static async Task DelayUntilAsync(long ticks, CancellationToken cancellationToken)
    {
        var left = (double)(ticks - Stopwatch.GetTimestamp()) / Stopwatch.Frequency;
        if (left > 0)
            await Task.Delay(TimeSpan.FromSeconds(left), cancellationToken);
    }
}
