using System.Diagnostics;
using EasyIm.LoadTest.Processes;
using EasyIm.LoadTest.Reporting;
using EasyIm.LoadTest.Targets;
using static EasyIm.LoadTest.Reporting.Figures;

namespace EasyIm.LoadTest.Scenarios;

/// <summary>
/// Group fan-out: one sender (the group's creator) sends group messages at a fixed rate to a group
/// whose every member is online; each message must reach every other member. Measured per delivery.
/// </summary>
public static class FanoutScenario
{
    /// <summary>The API takes at most this many ids per create or invite (FriendRules.MaxIdsPerCall).</summary>
    private const int IdsPerCall = 200;

    public static async Task<int> RunAsync(CommonOptions common, int members, FlowSettings flow, CancellationToken cancellationToken)
    {
        if (members < 2)
            throw new ArgumentOutOfRangeException(nameof(members), "a group needs at least 2 members");
        var run = RunInfo.Start();
        var what = $"fanout: {common.Shape.ToString().ToLowerInvariant()} shape, {RunInfo.TransportName(common.Transport)}, one sender, " +
            $"a group of {Count(members)} members (sender included) all online, {Rate(flow.Rate)} group messages/s (open loop), " +
            $"warm-up {flow.Warmup.TotalSeconds:F0} s, measured {flow.Duration.TotalSeconds:F0} s, drain <= {flow.Drain.TotalSeconds:F0} s, " +
            (flow.Receipts ? $"ARRIVED receipts every {flow.ReceiptInterval.TotalMilliseconds:F0} ms" : "no receipts") +
            $"; {RunInfo.Machine()}; easyim {RunInfo.ServerBuild()}; run {run.Id}";
        var progress = Console.Error;
        await progress.WriteLineAsync(what);

        FlowResult easyim;
        IReadOnlyList<ServiceLog> logs;
        PostgresConnectionSampler? postgres;
        Account[] accounts;
        long groupId;
        var watch = Stopwatch.StartNew();
        // The server refuses groups past Friends:MaxGroupMembers (2,000 by default); this one is as large as asked.
        var groupSize = new Dictionary<string, string> { ["Friends__MaxGroupMembers"] = Math.Max(members, 2000).ToString(System.Globalization.CultureInfo.InvariantCulture) };
        await using (var target = await EasyImTarget.StartAsync(common.Shape, common.Settings(EasyImTarget.ThroughputSettings, groupSize), common.Infrastructure, run.Id, run.LogDirectory, cancellationToken))
        {
            await progress.WriteLineAsync($"  {target.Name}: {target.Processes.Count} process(es) ready in {Seconds(watch.Elapsed)} s");
            logs = [.. target.Processes.Select(p => p.Log!)];
            postgres = target.PostgresConnections;
            using var api = new EasyImApi(target.Api);
            watch.Restart();
            accounts = await api.RegisterManyAsync($"l{run.Id}_", members, 16, progress, cancellationToken);
            await progress.WriteLineAsync($"  {target.Name}: {accounts.Length} users registered in {Seconds(watch.Elapsed)} s");
            watch.Restart();
            groupId = await MakeGroupAsync(api, accounts, run.Id, cancellationToken);
            await progress.WriteLineAsync($"  {target.Name}: the creator befriended {members - 1} users and made the group of {members} in {Seconds(watch.Elapsed)} s");
            easyim = await RunGroupAsync(target, accounts, groupId, common, flow, run, progress, cancellationToken);
        }

        FlowResult? relay = null;
        if (common.Baseline)
        {
            await using var target = await RelayTarget.StartAsync(common.Transport, cancellationToken);
            relay = await RunGroupAsync(target, accounts, groupId, common, flow, run, progress, cancellationToken);
        }

        var output = Console.Out;
        await output.WriteLineAsync();
        await output.WriteLineAsync(what);
        FlowReport.Write(output, easyim, relay, logs, postgres, fanout: true);
        await output.WriteLineAsync(IssueTargets.ForFanout(members, easyim));
        await output.WriteLineAsync($"- command: {common.CommandLine}");
        await output.WriteLineAsync($"- in full: {common.FullCommandLine}");
        return easyim.Tally.Lost + easyim.Tally.Unacked + easyim.Tally.OutOfOrder + easyim.Tally.AckOutOfOrder == 0 ? 0 : 1;
    }

    /// <summary>
    /// Groups take only the creator's friends: the creator befriends everyone (request, then the
    /// invitee accepts), creates the group with the first ids the API takes in one call, and
    /// invites the rest a call's worth at a time.
    /// </summary>
    private static async Task<long> MakeGroupAsync(EasyImApi api, Account[] accounts, string run, CancellationToken cancellationToken)
    {
        var creator = accounts[0];
        var others = accounts[1..];
        await Parallel.ForEachAsync(others, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (other, ct) =>
        {
            var request = await api.AddFriendAsync(creator, other.Id, ct);
            await api.AcceptFriendAsync(other, request, ct);
        });
        var ids = others.Select(a => a.Id).ToList();
        var group = await api.CreateGroupAsync(creator, "load " + run, ids.Take(IdsPerCall), cancellationToken);
        var count = 1 + Math.Min(IdsPerCall, ids.Count);
        foreach (var chunk in ids.Skip(IdsPerCall).Chunk(IdsPerCall))
            count = await api.InviteAsync(creator, group, chunk, cancellationToken);
        if (count != accounts.Length)
            throw new InvalidOperationException($"the group has {count} members, not {accounts.Length}");
        return group;
    }

    private static async Task<FlowResult> RunGroupAsync(ILoadTarget target, Account[] accounts, long groupId, CommonOptions common, FlowSettings flow,
        RunInfo run, TextWriter progress, CancellationToken cancellationToken)
    {
        var context = new FlowContext(SendMode.Rate, run.Id);
        var sender = new FlowSender(context, groupId, chatType: 1);
        var receivers = accounts[1..].Select(_ => new FlowReceiver(context)).ToList();
        var plans = new List<ConnectionPlan> { new(accounts[0], null, sender) };
        plans.AddRange(receivers.Select((r, i) => new ConnectionPlan(accounts[i + 1], null, r)));
        var connections = await Connector.ConnectAllAsync(target, common.Transport, plans, progress, cancellationToken);
        sender.Connection = connections[0];
        for (var i = 0; i < receivers.Count; i++)
            receivers[i].Connection = connections[i + 1];
        return await new MessageFlow(flow, context, [new FlowStream(sender, receivers)], target, progress).RunAsync(connections, cancellationToken);
    }
}
