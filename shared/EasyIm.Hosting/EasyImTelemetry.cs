using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace EasyIm.Hosting;

/// <summary>
/// EasyIm's own traces and metrics. A chat message is one trace: the gateway's receive span is its
/// root, and its context rides with the message on the bus (<c>TraceParent</c> of the submission and
/// of each push) to the messaging store span and the gateway push spans. Nothing here is created when
/// nobody listens: every span starts behind <see cref="Tracing"/>, so a process without an exporter
/// pays one branch per message.
/// </summary>
public static class EasyImTelemetry
{
    public const string Name = "EasyIm";

    public static readonly ActivitySource Source = new(Name);
    private static readonly Meter Meter = new(Name);

    /// <summary>Open long connections, by <c>transport</c> (tcp, ws).</summary>
    public static readonly UpDownCounter<long> Connections =
        Meter.CreateUpDownCounter<long>("easyim.connections", "{connection}", "Open long connections");

    /// <summary>Chat messages a gateway took from its connections.</summary>
    public static readonly Counter<long> MessagesReceived =
        Meter.CreateCounter<long>("easyim.messages.received", "{message}", "Chat messages received from clients by the gateway");

    /// <summary>Chat messages messaging stored (each once, resends not counted).</summary>
    public static readonly Counter<long> MessagesStored =
        Meter.CreateCounter<long>("easyim.messages.stored", "{message}", "Chat messages stored by messaging");

    /// <summary>Chat messages a gateway handed to its recipients' connections (once per push, not per connection).</summary>
    public static readonly Counter<long> MessagesPushed =
        Meter.CreateCounter<long>("easyim.messages.pushed", "{message}", "Stored chat messages pushed to connections by the gateway");

    /// <summary>From the message's <c>sent_at</c> (its store time) to its push being queued on the recipient's connections.</summary>
    public static readonly Histogram<double> DeliveryLatency =
        Meter.CreateHistogram<double>("easyim.delivery.latency", "ms", "From a chat message's storing to its push at the recipient's gateway",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] });

    /// <summary>
    /// Bus failures: sends and publishes that failed (a batch or a push that did not leave), and, with
    /// <c>kind=receive</c>, receive endpoints that lost the broker (see <see cref="Bus.CountEndpointFaults"/>).
    /// </summary>
    public static readonly Counter<long> BusErrors =
        Meter.CreateCounter<long>("easyim.bus.errors", "{error}", "Bus sends that failed and receive endpoints that lost the broker");

    /// <summary>
    /// Database transactions of the send path that failed: each failed attempt counts (most are retried),
    /// a resend's duplicate caught by the unique index included.
    /// </summary>
    public static readonly Counter<long> DatabaseErrors =
        Meter.CreateCounter<long>("easyim.database.errors", "{error}", "Database transactions that failed");

    /// <summary>
    /// Pushes for one gateway that found its queue in messaging full (the gateway's sends slow or hanging) and
    /// were published to every gateway instead.
    /// </summary>
    public static readonly Counter<long> PushQueueOverflows =
        Meter.CreateCounter<long>("easyim.push.queue_overflows", "{push}", "Pushes published to every gateway because their gateway's queue was full");

    /// <summary>
    /// Chat partitions this messaging process handed over to the process that owns them (drained, then its
    /// consumer registered again behind the owner's): each is a move of the partition's active consumer.
    /// </summary>
    public static readonly Counter<long> PartitionHandOvers =
        Meter.CreateCounter<long>("easyim.partitions.handovers", "{handover}", "Chat partitions handed over to their owning messaging process");

    /// <summary>
    /// Puts the error counters at zero, so that they are scraped from the start (an absent series is
    /// not a zero to Prometheus' rate() or to an alert).
    /// </summary>
    public static void PublishErrorCounters()
    {
        BusErrors.Add(0);
        DatabaseErrors.Add(0);
        PushQueueOverflows.Add(0);
    }

    /// <summary>True when some listener wants EasyIm's spans: checked before any per-message tracing work.</summary>
    public static bool Tracing => Source.HasListeners();

    /// <summary>
    /// Starts a span of a chat message, parented by the W3C <c>traceparent</c> the message carries,
    /// or a new trace when it carries none (and never under whatever span happens to be current:
    /// a WebSocket connection's reading runs under its upgrade request's span).
    /// </summary>
    public static Activity? StartMessageSpan(string name, ActivityKind kind, string? traceParent, DateTimeOffset startTime = default)
    {
        if (!Source.HasListeners())
            return null;
        var current = Activity.Current;
        Activity.Current = null;
        try
        {
            ActivityContext.TryParse(traceParent, null, isRemote: true, out var parent);
            return Source.StartActivity(name, kind, parent, startTime: startTime);
        }
        finally
        {
            Activity.Current = current;
        }
    }

    /// <summary>Ends a span without disturbing the span current on this thread.</summary>
    public static void Stop(Activity? activity)
    {
        if (activity is null)
            return;
        var current = Activity.Current;
        activity.Stop();
        Activity.Current = current == activity ? null : current;
    }

    /// <summary>The W3C <c>traceparent</c> of a span, to carry with a message; null without one.</summary>
    public static string? TraceParentOf(Activity? activity) =>
        activity is { IdFormat: ActivityIdFormat.W3C, Recorded: true } ? activity.Id : null;
}
