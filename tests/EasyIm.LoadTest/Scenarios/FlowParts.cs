using System.Buffers.Text;
using System.Diagnostics;
using System.Text;
using EasyIm.LoadTest.Measuring;
using EasyIm.LoadTest.Wire;
using HdrHistogram;

namespace EasyIm.LoadTest.Scenarios;

public enum SendMode
{
    /// <summary>Closed loop: each sender keeps a window of messages awaiting their SENT ack.</summary>
    Max,
    /// <summary>Open loop: each sender sends on a fixed schedule, whatever the answers do.</summary>
    Rate,
}

/// <summary>When a run warms up, measures, and stops sending, in <see cref="Stopwatch"/> ticks.</summary>
public sealed class FlowClock(long start, TimeSpan warmup, TimeSpan duration)
{
    public long Start { get; } = start;
    public long WarmupEnd { get; } = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
    public long MeasureEnd { get; } = start + (long)((warmup + duration).TotalSeconds * Stopwatch.Frequency);

    /// <summary>Only messages meant to leave in the measured interval count.</summary>
    public bool InWindow(long ticks) => ticks >= WarmupEnd && ticks < MeasureEnd;
}

/// <summary>
/// What the senders and receivers of one run share: the clock, the run's marks (its content
/// prefix, which also tells this run's messages from any an earlier run left for the connect-time
/// sync, and its client_msg_id prefix), and the latency histograms (microseconds, thread-safe).
/// </summary>
public sealed class FlowContext(SendMode mode, string run)
{
    private const long HighestMicros = 600_000_000;
    private static readonly double MicrosPerTick = 1_000_000.0 / Stopwatch.Frequency;

    private int _notifies;
    private string? _firstNotify;

    /// <summary>Set when the flow starts; until then no time is in the measured interval.</summary>
    public FlowClock Clock { get; set; } = new(0, TimeSpan.Zero, TimeSpan.Zero);
    public SendMode Mode { get; } = mode;

    /// <summary><c>{run}:</c>, then the message number and the intended send time: <c>{run}:{k}:{ticks}</c>.</summary>
    public byte[] ContentPrefix { get; } = Encoding.ASCII.GetBytes(run + ":");

    /// <summary><c>{run}-</c>, then the message number: the client_msg_id.</summary>
    public byte[] IdPrefix { get; } = Encoding.ASCII.GetBytes(run + "-");

    /// <summary>From the intended send time to the recipient's receipt.</summary>
    public LongConcurrentHistogram Latency { get; } = new(1, HighestMicros, 3);

    /// <summary>From the intended send time to the sender's SENT ack.</summary>
    public LongConcurrentHistogram AckLatency { get; } = new(1, HighestMicros, 3);

    private LongConcurrentHistogram? _interval;

    /// <summary>
    /// The latencies recorded since the last call (none before the first), as <see cref="Latency"/> counts them
    /// but for any message, measured interval or not: the soak's rows. A value recorded while it is taken may
    /// land in either interval.
    /// </summary>
    public HistogramBase TakeInterval() =>
        Interlocked.Exchange(ref _interval, new LongConcurrentHistogram(1, HighestMicros, 3)) ?? new LongConcurrentHistogram(1, HighestMicros, 3);

    /// <summary>Records a delivery's latency in the interval histogram, when someone takes intervals.</summary>
    public void RecordInterval(long ticks)
    {
        if (Volatile.Read(ref _interval) is { } interval)
            Record(interval, ticks);
    }

    public int Notifies => Volatile.Read(ref _notifies);
    public string? FirstNotify => Volatile.Read(ref _firstNotify);

    public static void Record(HistogramBase histogram, long ticks) =>
        histogram.RecordValue(Math.Clamp((long)(ticks * MicrosPerTick), 1, HighestMicros));

    public void Notify(ReadOnlySpan<byte> content)
    {
        Interlocked.Increment(ref _notifies);
        if (_firstNotify is null)
            Interlocked.CompareExchange(ref _firstNotify, Encoding.UTF8.GetString(content), null);
    }
}

/// <summary>
/// One sending connection. Its messages are numbered k = 0, 1, 2...: client_msg_id <c>{run}-{k}</c>,
/// content <c>{run}:{k}:{intended send ticks}</c>. In max mode each ack (SENT or FAIL) sends the
/// next message from the receive loop, until the measured interval ends.
/// </summary>
public sealed class FlowSender(FlowContext flow, long to, int chatType) : IFrameHandler
{
    public SendLedger Ledger { get; } = new();

    public LoadConnection Connection { get; set; } = null!;

    /// <summary>Rate mode: scheduled messages skipped because too many were awaiting their ack.</summary>
    public long NotSent { get; set; }

    public long NotSentMeasured { get; set; }

    public string? FirstFailure { get; private set; }

    /// <summary>Receipt frames (ARRIVED, READ) the sender got while the measured interval ran: what its recipients' receipts cost it.</summary>
    public long ReceiptFramesMeasured;

    /// <summary>Queues the next message (the caller flushes).</summary>
    public void Send(long intendedTicks)
    {
        var k = Ledger.Count;
        Span<byte> content = stackalloc byte[96];
        var c = new SpanWriter(content);
        c.Bytes(flow.ContentPrefix);
        c.Number(k);
        c.Byte((byte)':');
        c.Number(intendedTicks);
        Span<byte> id = stackalloc byte[64];
        var i = new SpanWriter(id);
        i.Bytes(flow.IdPrefix);
        i.Number(k);
        Ledger.Sent(intendedTicks, flow.Clock.InWindow(intendedTicks));
        Connection.EnqueueChat(to, chatType, c.Written, i.Written, (uint)(k + 1));
    }

    public void OnFrame(LoadConnection connection, ref Incoming frame)
    {
        if (frame.MsgType == Incoming.Notify)
        {
            flow.Notify(frame.Content);
            return;
        }
        if (frame.MsgType == Incoming.Event)
        {
            if (flow.Clock.InWindow(Stopwatch.GetTimestamp()) && (frame.Content.IndexOf("\"ARRIVED\""u8) >= 0 || frame.Content.IndexOf("\"READ\""u8) >= 0))
                Interlocked.Increment(ref ReceiptFramesMeasured);
            return;
        }
        if (!frame.IsChat || !frame.ClientMsgId.StartsWith(flow.IdPrefix)
            || !Utf8Parser.TryParse(frame.ClientMsgId[flow.IdPrefix.Length..], out int k, out _))
            return;
        var ok = frame.Status == Incoming.StatusSent;
        var result = Ledger.Acked(k, frame.Id, frame.ConversationSeq, ok);
        if (result is not (AckResult.Acked or AckResult.Failed))
            return;
        var now = Stopwatch.GetTimestamp();
        if (ok && Ledger.IsMeasured(k))
            FlowContext.Record(flow.AckLatency, now - Ledger.IntendedTicks(k));
        if (!ok)
            FirstFailure ??= frame.Error.IsEmpty ? "FAIL without an error text" : Encoding.UTF8.GetString(frame.Error);
        if (flow.Mode == SendMode.Max && now < flow.Clock.MeasureEnd)
            Send(now);
    }
}

/// <summary>
/// One receiving connection: records each of the run's messages in its ledger and its latency, and,
/// like a real client, acknowledges what arrived with an ARRIVED receipt now and then (<see cref="SendReceipt"/>).
/// </summary>
public sealed class FlowReceiver(FlowContext flow) : IFrameHandler
{
    private byte[]? _conversation;
    private ulong _highestSeq;
    private ulong _receipted;

    public ReceiveLedger Ledger { get; } = new();

    public LoadConnection Connection { get; set; } = null!;

    /// <summary>First deliveries (any of the run's messages) received within the measured interval.</summary>
    public long DeliveredInWindow { get; private set; }

    public void OnFrame(LoadConnection connection, ref Incoming frame)
    {
        if (frame.MsgType == Incoming.Notify)
        {
            flow.Notify(frame.Content);
            return;
        }
        if (!frame.IsChat || !frame.Content.StartsWith(flow.ContentPrefix))
            return;
        var rest = frame.Content[flow.ContentPrefix.Length..];
        if (!Utf8Parser.TryParse(rest, out int k, out var used) || used >= rest.Length || rest[used] != (byte)':'
            || !Utf8Parser.TryParse(rest[(used + 1)..], out long intended, out _))
            return;
        var now = Stopwatch.GetTimestamp();
        var measured = flow.Clock.InWindow(intended);
        if (Ledger.Record(frame.ConversationId, frame.Id, frame.ConversationSeq, k, measured) == DeliveryResult.New)
        {
            if (measured)
                FlowContext.Record(flow.Latency, now - intended);
            flow.RecordInterval(now - intended);
            if (flow.Clock.InWindow(now))
                DeliveredInWindow++;
        }
        if (frame.ConversationSeq > _highestSeq)
        {
            if (_conversation is null || !frame.ConversationId.SequenceEqual(_conversation))
                Volatile.Write(ref _conversation, frame.ConversationId.ToArray());
            Volatile.Write(ref _highestSeq, frame.ConversationSeq);
        }
    }

    /// <summary>ARRIVED up to the highest conversation_seq received, if it moved since the last receipt.</summary>
    public void SendReceipt()
    {
        var conversation = Volatile.Read(ref _conversation);
        var seq = Volatile.Read(ref _highestSeq);
        if (conversation is null || seq <= _receipted)
            return;
        Connection.EnqueueArrived(conversation, seq);
        Connection.Flush();
        _receipted = seq;
    }
}
