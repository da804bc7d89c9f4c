using System.Diagnostics;
using EasyIm.LoadTest.Processes;
using EasyIm.LoadTest.Reporting;
using EasyIm.LoadTest.Targets;
using HdrHistogram;
using Npgsql;
using static EasyIm.LoadTest.Reporting.Figures;

namespace EasyIm.LoadTest.Scenarios;

/// <summary>
/// Issue 17's soak: chat pairs at a fixed rate for a long time, and every interval (a minute) a row of
/// what grows when a server runs for hours: the SQLite log and database files (their largest size in the
/// interval, sampled every 200 ms), or PostgreSQL's messages table, its indexes and dead tuples; the server
/// processes' memory and CPU; and the latency of the messages delivered in that interval.
/// </summary>
public static class SoakScenario
{
    public static async Task<int> RunAsync(CommonOptions common, int pairs, FlowSettings flow, TimeSpan interval, CancellationToken cancellationToken)
    {
        var run = RunInfo.Start();
        var what = $"soak: {common.Shape.ToString().ToLowerInvariant()} shape, {RunInfo.TransportName(common.Transport)}, {pairs} pairs, " +
            $"rate {Rate(flow.Rate)} msg/s offered in all (open loop) for {flow.Duration.TotalMinutes:0.#} min, a row every {interval.TotalSeconds:0} s, " +
            (flow.Receipts ? $"ARRIVED receipts every {flow.ReceiptInterval.TotalMilliseconds:F0} ms" : "no receipts") +
            $"; {RunInfo.Machine()}; easyim {RunInfo.ServerBuild()}; run {run.Id}";
        var progress = Console.Error;
        await progress.WriteLineAsync(what);

        FlowResult result;
        IReadOnlyList<ServiceLog> logs;
        PostgresConnectionSampler? postgres;
        var rows = new List<SoakRow>();
        var watch = Stopwatch.StartNew();
        await using (var target = await EasyImTarget.StartAsync(common.Shape, common.Settings(EasyImTarget.ThroughputSettings), common.Infrastructure, run.Id, run.LogDirectory, cancellationToken))
        {
            await progress.WriteLineAsync($"  {target.Name}: {target.Processes.Count} process(es) ready in {Seconds(watch.Elapsed)} s");
            logs = [.. target.Processes.Select(p => p.Log!)];
            postgres = target.PostgresConnections;
            using var api = new EasyImApi(target.Api);
            var accounts = await api.RegisterManyAsync($"l{run.Id}_", 2 * pairs, 16, progress, cancellationToken);
            var context = new FlowContext(flow.Mode, run.Id);
            var sampler = new SoakSampler(target, context, interval);
            result = await ChatScenario.RunPairsAsync(target, accounts, common, flow, run, progress, cancellationToken,
                alongside: (clock, ct) => sampler.RunAsync(clock, rows, ct), context: context);
        }

        var output = Console.Out;
        await output.WriteLineAsync();
        await output.WriteLineAsync(what);
        SoakSampler.Table(common.Shape, rows).Write(output);
        FlowReport.Write(output, result, null, logs, postgres, fanout: false);
        await output.WriteLineAsync(SoakTargets(common, rows));
        await output.WriteLineAsync($"- command: {common.CommandLine}");
        await output.WriteLineAsync($"- in full: {common.FullCommandLine}");
        return result.Tally.Lost + result.Tally.Unacked + result.Tally.OutOfOrder + result.Tally.AckOutOfOrder == 0 ? 0 : 1;
    }

    /// <summary>Issue 17's: the WAL never above its bound; p99 in the last interval within 1.5× of the first; RSS flat after warm-up.</summary>
    private static string SoakTargets(CommonOptions common, IReadOnlyList<SoakRow> rows)
    {
        if (rows.Count < 2)
            return "- targets (issue 17, reported, not asserted): fewer than two intervals ran: not checked.";
        var checks = new List<string>();
        if (common.Shape == Shape.Standalone)
        {
            var boundMb = common.ServerSettings.TryGetValue("Database__SqliteWalLimitMB", out var set) && int.TryParse(set, out var mb) ? mb : 256;
            var walMax = rows.Max(r => r.WalMaxBytes ?? 0);
            checks.Add(Check($"the WAL never above its bound ({boundMb} MB)", walMax <= boundMb * 1024L * 1024, $"largest {Number(walMax / 1048576.0, 1)} MB"));
        }
        var (first, last) = (rows[0].P99Ms, rows[^1].P99Ms);
        checks.Add(Check("p99 in the last interval <= 1.5× the first", last <= 1.5 * first, $"{Number(first, 1)} ms, then {Number(last, 1)} ms, ×{Number(last / first, 2)}"));
        // After warm-up: from the second interval (the first holds the JIT and the connections' start).
        var (rss1, rssN) = (rows[Math.Min(1, rows.Count - 1)].RssBytes, rows[^1].RssBytes);
        checks.Add(Check("RSS flat after warm-up (last within 10 % of the second interval's)", rssN <= rss1 * 1.1,
            $"{Number(rss1 / 1048576.0, 0)} MB, then {Number(rssN / 1048576.0, 0)} MB"));
        return "- targets (issue 17, reported, not asserted): " + string.Join("; ", checks) + ".";
    }

    private static string Check(string target, bool met, string measured) => $"{target}: {(met ? "met" : "NOT MET")} ({measured})";
}

/// <summary>One interval of a soak.</summary>
public sealed record SoakRow(
    TimeSpan End, double DeliveredPerSecond, double P50Ms, double P99Ms, long RssBytes, double CpuPercent,
    long? WalMaxBytes, long? DatabaseBytes, long? MessagesTableBytes, long? MessagesIndexBytes, long? DeadTuples);

/// <summary>
/// Samples a running target every interval from the end of the flow's warm-up to the end of its measured
/// time, printing each row as it comes; the latencies are those of the messages delivered in the interval
/// (<see cref="FlowContext.TakeInterval"/>).
/// </summary>
public sealed class SoakSampler(EasyImTarget target, FlowContext context, TimeSpan interval)
{
    private static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(200);

    public async Task RunAsync(FlowClock clock, List<SoakRow> rows, CancellationToken cancellationToken)
    {
        var untilWarm = (double)(clock.WarmupEnd - Stopwatch.GetTimestamp()) / Stopwatch.Frequency;
        if (untilWarm > 0)
            await Task.Delay(TimeSpan.FromSeconds(untilWarm), cancellationToken);
        context.TakeInterval();
        var started = Stopwatch.GetTimestamp();
        var cpu0 = target.CpuTime();
        var intervalStart = started;
        long walMax = 0;
        try
        {
            while (Stopwatch.GetTimestamp() < clock.MeasureEnd)
            {
                var intervalEnd = intervalStart + (long)(interval.TotalSeconds * Stopwatch.Frequency);
                while (Stopwatch.GetTimestamp() < Math.Min(intervalEnd, clock.MeasureEnd))
                {
                    walMax = Math.Max(walMax, FileBytes("messaging.db-wal") ?? 0);
                    await Task.Delay(SampleEvery, cancellationToken);
                }
                var now = Stopwatch.GetTimestamp();
                var seconds = (double)(now - intervalStart) / Stopwatch.Frequency;
                var latency = context.TakeInterval();
                var cpu = target.CpuTime();
                var (table, indexes, dead) = target.Postgres is { } postgres ? await MessagesTableAsync(postgres, cancellationToken) : (null, null, null);
                var row = new SoakRow(
                    TimeSpan.FromSeconds((double)(now - started) / Stopwatch.Frequency),
                    latency.TotalCount / seconds,
                    latency.TotalCount == 0 ? 0 : latency.GetValueAtPercentile(50) / 1000.0,
                    latency.TotalCount == 0 ? 0 : latency.GetValueAtPercentile(99) / 1000.0,
                    target.Processes.Sum(p => (p.RssKiB() ?? 0) * 1024),
                    (cpu - cpu0).TotalSeconds / seconds * 100,
                    target.Shape == Shape.Standalone ? Math.Max(walMax, FileBytes("messaging.db-wal") ?? 0) : null,
                    target.Shape == Shape.Standalone ? FileBytes("messaging.db") : null,
                    table, indexes, dead);
                rows.Add(row);
                await Console.Error.WriteLineAsync($"  soak {Minutes(row.End)}: {Rate(row.DeliveredPerSecond)} msg/s delivered, p50 {Number(row.P50Ms, 1)} ms, " +
                    $"p99 {Number(row.P99Ms, 1)} ms, RSS {Megabytes(row.RssBytes)} MB, CPU {Number(row.CpuPercent, 0)} %" +
                    (row.WalMaxBytes is { } wal ? $", WAL up to {Megabytes(wal)} MB, database {Megabytes(row.DatabaseBytes ?? 0)} MB" : "") +
                    (row.MessagesTableBytes is { } t ? $", messages {Megabytes(t)} MB + indexes {Megabytes(row.MessagesIndexBytes ?? 0)} MB, {Count(row.DeadTuples ?? 0)} dead tuples" : ""));
                (intervalStart, cpu0, walMax) = (now, cpu, 0);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public static MarkdownTable Table(Shape shape, IReadOnlyList<SoakRow> rows)
    {
        var table = shape == Shape.Standalone
            ? new MarkdownTable("at", "delivered msg/s", "p50 ms", "p99 ms", "server RSS MB", "server CPU %", "WAL max MB", "messaging.db MB")
            : new MarkdownTable("at", "delivered msg/s", "p50 ms", "p99 ms", "servers' RSS MB", "servers' CPU %", "messages table MB", "its indexes MB", "dead tuples");
        foreach (var r in rows)
        {
            string[] common = [Minutes(r.End), Rate(r.DeliveredPerSecond), Number(r.P50Ms, 1), Number(r.P99Ms, 1), Megabytes(r.RssBytes), Number(r.CpuPercent, 0)];
            table.Add(shape == Shape.Standalone
                ? [.. common, Megabytes(r.WalMaxBytes ?? 0), Megabytes(r.DatabaseBytes ?? 0)]
                : [.. common, Megabytes(r.MessagesTableBytes ?? 0), Megabytes(r.MessagesIndexBytes ?? 0), Count(r.DeadTuples ?? 0)]);
        }
        return table;
    }

    private long? FileBytes(string name)
    {
        var file = new FileInfo(Path.Combine(target.DataDirectory, name));
        try
        {
            return file.Exists ? file.Length : 0;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>messaging.messages: its table (heap and TOAST), its indexes, and its dead tuples (as autovacuum last counted them).</summary>
    private static async Task<(long?, long?, long?)> MessagesTableAsync(string connectionString, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand(
                "SELECT pg_table_size(relid), pg_indexes_size(relid), n_dead_tup FROM pg_stat_user_tables WHERE schemaname = 'messaging' AND relname = 'messages'",
                connection);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return await reader.ReadAsync(cancellationToken) ? (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)) : (null, null, null);
        }
        catch (NpgsqlException)
        {
            return (null, null, null);
        }
    }

    private static string Minutes(TimeSpan t) => $"{(int)t.TotalMinutes}:{t.Seconds:00}";

    private static string Megabytes(long bytes) => Number(bytes / 1048576.0, 1);
}
