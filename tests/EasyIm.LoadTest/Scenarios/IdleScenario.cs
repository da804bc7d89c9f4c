using System.Diagnostics;
using EasyIm.LoadTest.Processes;
using EasyIm.LoadTest.Reporting;
using EasyIm.LoadTest.Targets;
using static EasyIm.LoadTest.Reporting.Figures;

namespace EasyIm.LoadTest.Scenarios;

/// <summary>
/// Idle connections: how much memory one authenticated, silent connection costs the process that
/// holds it (the standalone process, or the distributed shape's one gateway), against the bare
/// relay holding as many. The connections live in agent processes (a process may open at most
/// 20,000 files here).
/// </summary>
public static class IdleScenario
{
    /// <summary>What holding the connections cost one target.</summary>
    private sealed record Holding(string System, int Held, int Failed, string? FirstError, int ClosedByServer, string? FirstCloseReason,
        long RssBeforeKiB, long RssAfterKiB, TimeSpan ConnectTime, IReadOnlyList<string> ProcessExits)
    {
        public double KiBPerConnection => Held > 0 ? (double)(RssAfterKiB - RssBeforeKiB) / Held : double.NaN;
    }

    public static async Task<int> RunAsync(CommonOptions common, int connections, int devices, TimeSpan settle, TimeSpan heartbeat, CancellationToken cancellationToken)
    {
        if (devices < 1 || connections < 1)
            throw new ArgumentOutOfRangeException(nameof(connections), "--connections and --devices must be at least 1");
        var run = RunInfo.Start();
        var users = (connections + devices - 1) / devices;
        var agents = (connections + ConnectionAgent.MaxConnections - 1) / ConnectionAgent.MaxConnections;
        var holder = common.Shape == Shape.Standalone ? "the standalone process" : "the gateway process";
        var what = $"idle: {common.Shape.ToString().ToLowerInvariant()} shape, {RunInfo.TransportName(common.Transport)}, {Count(connections)} authenticated idle connections " +
            $"({Count(users)} users x {devices} device(s)) on one gateway, held by {agents} agent process(es); memory = VmRSS of {holder} after the connections " +
            $"and a {settle.TotalSeconds:F0} s settle, minus before; " +
            (heartbeat > TimeSpan.Zero ? $"a heartbeat every {heartbeat.TotalSeconds:F0} s" : "no heartbeats (Gateway:DropAfter raised so none is dropped)") +
            $"; {RunInfo.Machine()}; easyim {RunInfo.ServerBuild()}; run {run.Id}";
        var progress = Console.Error;
        await progress.WriteLineAsync(what);

        // Nothing is dropped while the run holds its connections, heartbeats or not; handshakes may queue behind thousands of others.
        var settings = new Dictionary<string, string> { ["Gateway__DropAfter"] = "3600", ["Gateway__HandshakeTimeout"] = "120" };
        Holding easyim;
        IReadOnlyList<ServiceLog> logs;
        PostgresConnectionSampler? postgres;
        List<(Account, string?)> plan;
        var watch = Stopwatch.StartNew();
        await using (var target = await EasyImTarget.StartAsync(common.Shape, common.Settings(EasyImTarget.ThroughputSettings, settings), common.Infrastructure, run.Id, run.LogDirectory, cancellationToken))
        {
            await progress.WriteLineAsync($"  {target.Name}: {target.Processes.Count} process(es) ready in {Seconds(watch.Elapsed)} s");
            logs = [.. target.Processes.Select(p => p.Log!)];
            postgres = target.PostgresConnections;
            using var api = new EasyImApi(target.Api);
            watch.Restart();
            var accounts = await api.RegisterManyAsync($"l{run.Id}_", users, 16, progress, cancellationToken);
            await progress.WriteLineAsync($"  {target.Name}: {Count(users)} users registered in {Seconds(watch.Elapsed)} s");
            plan = [.. Enumerable.Range(0, connections).Select(c => (accounts[c / devices], devices > 1 ? $"d{c % devices}" : (string?)null))];
            easyim = await HoldAsync(target, plan, common, settle, heartbeat, progress, cancellationToken);
        }

        Holding? relay = null;
        if (common.Baseline)
        {
            await using var target = await RelayTarget.StartAsync(common.Transport, cancellationToken);
            relay = await HoldAsync(target, plan, common, settle, heartbeat, progress, cancellationToken);
        }

        var output = Console.Out;
        await output.WriteLineAsync();
        await output.WriteLineAsync(what);
        await output.WriteLineAsync();
        var table = new MarkdownTable("system", "connections held", "RSS before MiB", "RSS after MiB", "KiB per connection", "connect + sync s");
        foreach (var h in new[] { easyim, relay }.OfType<Holding>())
            table.Add(h.System, Count(h.Held), Number(h.RssBeforeKiB / 1024.0, 0), Number(h.RssAfterKiB / 1024.0, 0), Number(h.KiBPerConnection, 1), Seconds(h.ConnectTime));
        if (relay is not null)
            table.Add("easyim ÷ relay", "", "", "", Ratio(easyim.KiBPerConnection, relay.KiBPerConnection), Ratio(easyim.ConnectTime.TotalSeconds, relay.ConnectTime.TotalSeconds));
        table.Write(output);
        await output.WriteLineAsync();
        foreach (var h in new[] { easyim, relay }.OfType<Holding>())
        {
            var anomalies = new List<string>();
            if (h.Failed > 0)
                anomalies.Add($"{Count(h.Failed)} connections failed (first: {h.FirstError})");
            if (h.ClosedByServer > 0)
                anomalies.Add($"{Count(h.ClosedByServer)} closed by the server while held (first: {h.FirstCloseReason})");
            anomalies.AddRange(h.ProcessExits);
            await output.WriteLineAsync($"- {h.System}: {(anomalies.Count == 0 ? "every connection opened, authenticated, synced and stayed open" : string.Join("; ", anomalies))}.");
        }
        FlowReport.LogSummary(output, logs, postgres);
        await output.WriteLineAsync(IssueTargets.ForIdle(connections, easyim.KiBPerConnection));
        await output.WriteLineAsync($"- command: {common.CommandLine}");
        await output.WriteLineAsync($"- in full: {common.FullCommandLine}");
        return easyim.Failed + easyim.ClosedByServer == 0 ? 0 : 1;
    }

    private static async Task<Holding> HoldAsync(ILoadTarget target, List<(Account, string?)> plan, CommonOptions common, TimeSpan settle, TimeSpan heartbeat,
        TextWriter progress, CancellationToken cancellationToken)
    {
        // What registration and start-up left behind settles first.
        await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
        var before = target.ConnectionHolder.RssKiB() ?? throw new InvalidOperationException($"{target.ConnectionHolder.Name} is gone");
        var agents = new List<AgentProcess>();
        try
        {
            var watch = Stopwatch.StartNew();
            foreach (var (slice, index) in plan.Chunk(ConnectionAgent.MaxConnections).Select((s, i) => (s, i)))
                agents.Add(await AgentProcess.StartAsync(index, target.Endpoint, common.Transport, heartbeat, slice));
            var counts = new int[agents.Count];
            var lastShown = 0;
            var ready = await Task.WhenAll(agents.Select((a, i) => a.ReadyAsync(n =>
            {
                counts[i] = n;
                var total = counts.Sum();
                if (total - Volatile.Read(ref lastShown) >= 2000)
                {
                    Volatile.Write(ref lastShown, total);
                    progress.WriteLine($"  {target.Name}: {Count(total)} connections ready ({total / watch.Elapsed.TotalSeconds:N0}/s)");
                }
            }, cancellationToken)));
            var connectTime = watch.Elapsed;
            var held = ready.Sum(r => r.Ok);
            await progress.WriteLineAsync($"  {target.Name}: {Count(held)} connections authenticated and synced in {Seconds(connectTime)} s; settling {settle.TotalSeconds:F0} s");
            await Task.Delay(settle, cancellationToken);
            var after = target.ConnectionHolder.RssKiB() ?? throw new InvalidOperationException($"{target.ConnectionHolder.Name} is gone");
            var status = await Task.WhenAll(agents.Select(a => a.StatusAsync(cancellationToken)));
            return new Holding(target.Name, status.Sum(s => s.Open), ready.Sum(r => r.Failed), ready.Select(r => r.FirstError).FirstOrDefault(e => e is not null),
                status.Sum(s => s.Closed), status.Select(s => s.FirstReason).FirstOrDefault(r => r is not null),
                before, after, connectTime, [.. target.UnexpectedExits()]);
        }
        finally
        {
            foreach (var agent in agents)
                await agent.DisposeAsync();
        }
    }
}
