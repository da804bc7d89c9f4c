using System.Diagnostics;
using EasyIm.LoadTest.Processes;
using EasyIm.LoadTest.Reporting;
using EasyIm.LoadTest.Targets;
using static EasyIm.LoadTest.Reporting.Figures;

namespace EasyIm.LoadTest.Scenarios;

/// <summary>
/// One-to-one chat: pairs of a sender and a receiver connection, the same workload against EasyIm
/// and then against the bare relay, reported side by side with their ratios.
/// </summary>
public static class ChatScenario
{
    public static async Task<int> RunAsync(CommonOptions common, int pairs, FlowSettings flow, CancellationToken cancellationToken)
    {
        var run = RunInfo.Start();
        var what = $"chat: {common.Shape.ToString().ToLowerInvariant()} shape, {RunInfo.TransportName(common.Transport)}, " +
            (flow.Mode == SendMode.Max
                ? $"max (each sender keeps {flow.Window} messages awaiting their SENT ack)"
                : $"rate {Rate(flow.Rate)} msg/s offered in all (open loop, latency from the intended send time)") +
            $", {pairs} pairs, warm-up {flow.Warmup.TotalSeconds:F0} s, measured {flow.Duration.TotalSeconds:F0} s, drain <= {flow.Drain.TotalSeconds:F0} s, " +
            (flow.Receipts ? $"ARRIVED receipts every {flow.ReceiptInterval.TotalMilliseconds:F0} ms" : "no receipts") +
            $"; {RunInfo.Machine()}; easyim {RunInfo.ServerBuild()}; run {run.Id}";
        var progress = Console.Error;
        await progress.WriteLineAsync(what);

        FlowResult easyim;
        IReadOnlyList<ServiceLog> logs;
        PostgresConnectionSampler? postgres;
        Account[] accounts;
        var watch = Stopwatch.StartNew();
        await using (var target = await EasyImTarget.StartAsync(common.Shape, common.Settings(EasyImTarget.ThroughputSettings), common.Infrastructure, run.Id, run.LogDirectory, cancellationToken))
        {
            await progress.WriteLineAsync($"  {target.Name}: {target.Processes.Count} process(es) ready in {Seconds(watch.Elapsed)} s");
            logs = [.. target.Processes.Select(p => p.Log!)];
            postgres = target.PostgresConnections;
            using var api = new EasyImApi(target.Api);
            watch.Restart();
            accounts = await api.RegisterManyAsync($"l{run.Id}_", 2 * pairs, 16, progress, cancellationToken);
            await progress.WriteLineAsync($"  {target.Name}: {accounts.Length} users registered in {Seconds(watch.Elapsed)} s");
            easyim = await RunPairsAsync(target, accounts, common, flow, run, progress, cancellationToken);
        }

        FlowResult? relay = null;
        if (common.Baseline)
        {
            await using var target = await RelayTarget.StartAsync(common.Transport, cancellationToken);
            relay = await RunPairsAsync(target, accounts, common, flow, run, progress, cancellationToken);
        }

        var output = Console.Out;
        await output.WriteLineAsync();
        await output.WriteLineAsync(what);
        FlowReport.Write(output, easyim, relay, logs, postgres, fanout: false);
        await output.WriteLineAsync(IssueTargets.ForChat(common.Shape, flow.Mode, flow.Rate, easyim));
        await output.WriteLineAsync($"- command: {common.CommandLine}");
        await output.WriteLineAsync($"- in full: {common.FullCommandLine}");
        return easyim.Tally.Lost + easyim.Tally.Unacked + easyim.Tally.OutOfOrder + easyim.Tally.AckOutOfOrder == 0 ? 0 : 1;
    }

    /// <summary>
    /// Connects the pairs (accounts 2p sends to 2p + 1) and runs the flow on them. <paramref name="mark"/>
    /// goes into every content and client_msg_id (the run's id unless said): two flows on one server
    /// with the same users need marks of their own, or the second's messages would be taken for the
    /// first's resent. <paramref name="alongside"/> runs beside the flow (<see cref="MessageFlow.RunAsync"/>);
    /// <paramref name="context"/>, when given, is the flow's (for work beside it that reads its latencies).
    /// </summary>
    internal static async Task<FlowResult> RunPairsAsync(ILoadTarget target, Account[] accounts, CommonOptions common, FlowSettings flow,
        RunInfo run, TextWriter progress, CancellationToken cancellationToken, string? mark = null, Func<FlowClock, CancellationToken, Task>? alongside = null,
        FlowContext? context = null)
    {
        context ??= new FlowContext(flow.Mode, mark ?? run.Id);
        var streams = new List<FlowStream>();
        var plans = new List<ConnectionPlan>();
        for (var p = 0; p < accounts.Length / 2; p++)
        {
            var sender = new FlowSender(context, accounts[2 * p + 1].Id, chatType: 0);
            var receiver = new FlowReceiver(context);
            streams.Add(new FlowStream(sender, [receiver]));
            plans.Add(new ConnectionPlan(accounts[2 * p], null, sender));
            plans.Add(new ConnectionPlan(accounts[2 * p + 1], null, receiver));
        }
        var connections = await Connector.ConnectAllAsync(target, common.Transport, plans, progress, cancellationToken);
        for (var p = 0; p < streams.Count; p++)
        {
            streams[p].Sender.Connection = connections[2 * p];
            streams[p].Recipients[0].Connection = connections[2 * p + 1];
        }
        return await new MessageFlow(flow, context, streams, target, progress).RunAsync(connections, cancellationToken, alongside);
    }
}
