using EasyIm.LoadTest.Processes;
using HdrHistogram;
using EasyIm.LoadTest.Scenarios;
using EasyIm.LoadTest.Targets;
using static EasyIm.LoadTest.Reporting.Figures;

namespace EasyIm.LoadTest.Reporting;

/// <summary>The report of a message run (chat or fan-out): the table, then what the table cannot say.</summary>
public static class FlowReport
{
    /// <param name="fanout">Fan-out counts per delivery (one message, many recipients), chat per message.</param>
    public static void Write(TextWriter output, FlowResult easyim, FlowResult? relay, IReadOnlyList<ServiceLog> logs, PostgresConnectionSampler? postgres, bool fanout)
    {
        var table = Table("system", fanout);
        Row(table, easyim);
        if (relay is not null)
        {
            Row(table, relay);
            RatioRow(table, "easyim ÷ relay", easyim, relay);
        }
        output.WriteLine();
        table.Write(output);
        output.WriteLine();
        Details(output, easyim, fanout);
        if (relay is not null)
            Details(output, relay, fanout);
        LogSummary(output, logs, postgres);
    }

    /// <summary>
    /// Two runs of the same chat workload (say without and with an attack) as a table with a row of
    /// ratios <paramref name="second"/> ÷ <paramref name="first"/>, then what the table cannot say of each.
    /// Each row is named by its <see cref="FlowResult.System"/>.
    /// </summary>
    public static void WriteComparison(TextWriter output, string subject, FlowResult first, FlowResult second, string ratioLabel)
    {
        var table = Table(subject, fanout: false);
        Row(table, first);
        Row(table, second);
        RatioRow(table, ratioLabel, second, first);
        output.WriteLine();
        table.Write(output);
        output.WriteLine();
        Details(output, first, fanout: false);
        Details(output, second, fanout: false);
    }

    private static MarkdownTable Table(string subject, bool fanout) => fanout
        ? new MarkdownTable(subject, "sent msg/s", "deliveries/s", "p50 ms", "p99 ms", "max ms", "SENT ack p99 ms",
            "lost", "unacked", "duplicates", "out of order (recv / ack)", "server CPU µs/delivery")
        : new MarkdownTable(subject, "offered msg/s", "delivered msg/s", "p50 ms", "p99 ms", "max ms", "SENT ack p99 ms",
            "lost", "unacked", "duplicates", "out of order (recv / ack)", "server CPU µs/msg");

    /// <summary>The row of <paramref name="a"/> ÷ <paramref name="b"/>, figure by figure.</summary>
    private static void RatioRow(MarkdownTable table, string label, FlowResult a, FlowResult b)
    {
        var latencies = a.Latency.TotalCount > 0 && b.Latency.TotalCount > 0;
        var acks = a.AckLatency.TotalCount > 0 && b.AckLatency.TotalCount > 0;
        table.Add(label,
            Ratio(a.OfferedPerSecond, b.OfferedPerSecond), Ratio(a.DeliveredPerSecond, b.DeliveredPerSecond),
            latencies ? Ratio(P(a.Latency, 50), P(b.Latency, 50)) : "", latencies ? Ratio(P(a.Latency, 99), P(b.Latency, 99)) : "",
            latencies ? Ratio(a.Latency.GetMaxValue(), b.Latency.GetMaxValue()) : "",
            acks ? Ratio(P(a.AckLatency, 99), P(b.AckLatency, 99)) : "",
            "", "", "", "", Ratio(a.ServerMicrosPerDelivery ?? double.NaN, b.ServerMicrosPerDelivery ?? 0));
    }

    private static long P(HistogramBase histogram, double percentile) =>
        histogram.TotalCount == 0 ? 0 : histogram.GetValueAtPercentile(percentile);

    private static void Row(MarkdownTable table, FlowResult r)
    {
        var t = r.Tally;
        var empty = r.Latency.TotalCount == 0;
        table.Add(r.System, Rate(r.OfferedPerSecond), Rate(r.DeliveredPerSecond),
            empty ? "-" : Ms(P(r.Latency, 50)), empty ? "-" : Ms(P(r.Latency, 99)), empty ? "-" : Ms(r.Latency.GetMaxValue()),
            r.AckLatency.TotalCount == 0 ? "-" : Ms(P(r.AckLatency, 99)),
            Count(t.Lost), Count(t.Unacked), Count(t.Duplicates), $"{Count(t.OutOfOrder)} / {Count(t.AckOutOfOrder)}",
            r.ServerMicrosPerDelivery is { } cpu ? Number(cpu, 0) : "-");
    }

    private static void Details(TextWriter output, FlowResult r, bool fanout)
    {
        var t = r.Tally;
        var window = r.Measured.TotalSeconds;
        output.WriteLine($"- {r.System}: measured messages {Count(t.Sent)} sent, {Count(t.Acked)} acked SENT, {Count(t.Failed)} FAIL, {Count(t.Unacked)} unanswered; " +
            $"{Count(t.Delivered)} deliveries arrived ({Count(t.Expected)} owed for the acked ones); stored twice {Count(t.StoredTwice)}, repeated acks {Count(t.RepeatedAcks)}; " +
            $"drain {Seconds(r.DrainTime)} s{(r.Drained ? "" : " (gave up waiting)")}.");
        output.WriteLine($"  CPU in the measured interval: server {Number(r.ServerCpu.TotalSeconds / window, 2)} cores, load client {Number(r.ClientCpu.TotalSeconds / window, 2)} cores " +
            $"({(r.ClientMicrosPerDelivery is { } c ? Number(c, 0) : "-")} µs per {(fanout ? "delivery" : "message")}), whole machine {Number(r.MachineBusy * 100, 0)} % busy.");
        if (fanout && t.Sent > 0)
            output.WriteLine($"  receipts at the sender: {Count(r.ReceiptFramesAtSenders)} ARRIVED/READ frames in the measured interval, " +
                $"{Number((double)r.ReceiptFramesAtSenders / t.Sent, 1)} per message sent.");
        var anomalies = new List<string>();
        if (r.Notifies > 0)
            anomalies.Add($"{Count(r.Notifies)} NOTIFY frames (first: {r.FirstNotify})");
        if (r.FirstFailure is not null)
            anomalies.Add($"first FAIL: {r.FirstFailure}");
        if (r.ClosedByServer > 0)
            anomalies.Add($"{Count(r.ClosedByServer)} connections closed by the server (first: {r.FirstCloseReason})");
        if (r.SendersBehind > 0)
            anomalies.Add($"{Count(r.SendersBehind)} senders fell behind (too many messages awaiting their ack): {Count(r.NotSentMeasured)} measured messages not sent");
        anomalies.AddRange(r.ProcessExits);
        anomalies.AddRange(r.Evidence);
        if (anomalies.Count > 0)
            output.WriteLine("  " + string.Join("; ", anomalies) + ".");
    }

    private static string Shortened(string line) => line.Length <= 300 ? line : line[..300] + "...";

    public static void LogSummary(TextWriter output, IReadOnlyList<ServiceLog> logs, PostgresConnectionSampler? postgres)
    {
        if (postgres is not null)
            output.WriteLine(postgres.Describe());
        if (logs.Count == 0)
            return;
        output.WriteLine($"- server logs: " + string.Join("; ", logs.Select(l =>
            $"{l.Name} {Count(l.Errors)} errors ({Count(l.StartupErrors)} while starting), {Count(l.Warnings)} warnings ({Count(l.StartupWarnings)} while starting), " +
            $"{Count(l.PostgresConnectionRefusals)} PostgreSQL connection refusals")) +
            $" (in {Path.GetDirectoryName(logs[0].Path)}).");
        foreach (var log in logs)
        {
            // Start-up errors are mostly the same few each time (a bus not started yet answering /health/ready): one each says what they are.
            foreach (var error in log.FirstStartupErrors.Take(1))
                output.WriteLine($"  [{log.Name}, starting] {Shortened(error)}");
            foreach (var error in log.FirstErrors)
                output.WriteLine($"  [{log.Name}] {Shortened(error)}");
        }
    }
}
