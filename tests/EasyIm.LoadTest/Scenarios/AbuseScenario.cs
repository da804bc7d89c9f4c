using System.Diagnostics;
using System.Globalization;
using EasyIm.LoadTest.Abuse;
using EasyIm.LoadTest.Processes;
using EasyIm.LoadTest.Reporting;
using EasyIm.LoadTest.Targets;
using static EasyIm.LoadTest.Reporting.Figures;

namespace EasyIm.LoadTest.Scenarios;

/// <summary>
/// Issue 13's abuse scenario: bystanders chat in pairs at a fixed rate, first alone, then while one
/// hostile user (or a few) per attack class attacks, on the same server with its limits as shipped.
/// The bystanders' latency and integrity with the attacks are reported against without, and what each
/// attacker sent and got.
/// </summary>
/// <remarks>
/// Both phases run on one server, back to back, without first: the baseline is taken minutes before
/// the attack on the same processes, database and machine load (this machine is shared, and two
/// servers differ by more than their settings: JIT, caches, ports), and nothing an attack leaves
/// behind (queued work, rows, spent budgets) can reach it. The database holds the first phase's rows
/// during the second, which if anything makes the second slower.
/// </remarks>
public static class AbuseScenario
{
    /// <summary>The shipped per-connection chat limit (Gateway:RateLimit:PerSecond); bystanders stay under 80 % of it.</summary>
    private const double ShippedChatPerSecond = 100;
    private const double BystanderShare = 0.8;

    /// <summary>The server as shipped: every limit at its default. <c>--server-setting</c> may change any.</summary>
    private static readonly IReadOnlyDictionary<string, string> ShippedLimits = new Dictionary<string, string>();

    public static async Task<int> RunAsync(CommonOptions common, int pairs, FlowSettings flow, IReadOnlyList<AttackKind> kinds, int history,
        CancellationToken cancellationToken)
    {
        CheckBystanderRate(common, flow.Rate, pairs);
        var run = RunInfo.Start();
        var what = $"abuse: {common.Shape.ToString().ToLowerInvariant()} shape, {RunInfo.TransportName(common.Transport)}, limits as shipped; " +
            $"bystanders: {pairs} pairs of friends chatting at {Rate(flow.Rate)} msg/s offered in all (open loop), " +
            $"first without attack, then with {kinds.Count} attack(s) ({string.Join(", ", kinds.Select(AttackKinds.Name))}) running through the measured interval, same server; " +
            $"each phase warm-up {flow.Warmup.TotalSeconds:F0} s, measured {flow.Duration.TotalSeconds:F0} s, drain <= {flow.Drain.TotalSeconds:F0} s, " +
            (flow.Receipts ? $"ARRIVED receipts every {flow.ReceiptInterval.TotalMilliseconds:F0} ms" : "no receipts") +
            $"; {RunInfo.Machine()}; easyim {RunInfo.ServerBuild()}; run {run.Id}";
        var progress = Console.Error;
        await progress.WriteLineAsync(what);

        FlowResult quiet, attacked;
        IReadOnlyList<Attack> attacks;
        IReadOnlyList<ServiceLog> logs;
        PostgresConnectionSampler? postgres;
        var watch = Stopwatch.StartNew();
        await using (var target = await EasyImTarget.StartAsync(common.Shape, common.Settings(ShippedLimits), common.Infrastructure, run.Id, run.LogDirectory, cancellationToken))
        {
            await progress.WriteLineAsync($"  {target.Name}: {target.Processes.Count} process(es) ready in {Seconds(watch.Elapsed)} s");
            logs = [.. target.Processes.Select(p => p.Log!)];
            postgres = target.PostgresConnections;
            var context = new AttackContext(target.Endpoint, target.Api, common.Transport, run.Id, progress);

            watch.Restart();
            // Every bystander registers from an address of its own, as people do: the per-address budgets stay as shipped for the attackers.
            var accounts = await context.RegisterManyAsync(
                [.. Enumerable.Range(0, 2 * pairs).Select(i => $"l{run.Id}_{i.ToString(CultureInfo.InvariantCulture)}")], 16, cancellationToken);
            await Parallel.ForAsync(0, pairs, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
                async (p, ct) => await context.BefriendAsync(accounts[2 * p], accounts[2 * p + 1], ct));
            await progress.WriteLineAsync($"  {target.Name}: {accounts.Length} bystanders registered (each from its own loopback address) and paired as friends in {Seconds(watch.Elapsed)} s");

            watch.Restart();
            attacks = Attack.Create(kinds, history);
            foreach (var attack in attacks)
                await attack.PrepareAsync(context, cancellationToken);
            await progress.WriteLineAsync($"  {target.Name}: the attackers' users made in {Seconds(watch.Elapsed)} s");

            await progress.WriteLineAsync($"  {target.Name}: phase 1, without attack");
            quiet = await ChatScenario.RunPairsAsync(target, accounts, common, flow, run, progress, cancellationToken, mark: run.Id + "a");
            await progress.WriteLineAsync($"  {target.Name}: phase 2, with the attacks");
            attacked = await ChatScenario.RunPairsAsync(target, accounts, common, flow, run, progress, cancellationToken, mark: run.Id + "b",
                alongside: (clock, ct) => Attack.RunAllAsync(attacks, context, clock, ct));
        }
        quiet = quiet with { System = "without attack" };
        attacked = attacked with { System = "with the attacks" };

        var output = Console.Out;
        await output.WriteLineAsync();
        await output.WriteLineAsync(what);
        AbuseReport.Write(output, quiet, attacked, attacks);
        FlowReport.LogSummary(output, logs, postgres);
        await output.WriteLineAsync(IssueTargets.ForAbuse(quiet, attacked));
        await output.WriteLineAsync($"- command: {common.CommandLine}");
        await output.WriteLineAsync($"- in full: {common.FullCommandLine}");
        return new[] { quiet, attacked }.All(r => r.Tally.Lost + r.Tally.Unacked + r.Tally.OutOfOrder + r.Tally.AckOutOfOrder == 0) ? 0 : 1;
    }

    /// <summary>
    /// Each bystander sender's share of the rate must stay under the per-connection chat limit (the shipped
    /// one, or a <c>--server-setting</c>'s), or the server would rightly refuse the bystanders themselves.
    /// </summary>
    public static void CheckBystanderRate(CommonOptions common, double rate, int pairs)
    {
        var limit = common.ServerSettings.TryGetValue("Gateway__RateLimit__PerSecond", out var set)
                    && double.TryParse(set, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed : ShippedChatPerSecond;
        var perSender = rate / pairs;
        if (perSender > limit * BystanderShare)
            throw new ArgumentException(
                $"--rate {Rate(rate)} over --pairs {pairs} is {Number(perSender, 1)} msg/s per bystander, over {BystanderShare:P0} of the per-connection limit ({Rate(limit)}/s): " +
                $"the server would refuse the bystanders themselves; use --pairs {(int)Math.Ceiling(rate / (limit * BystanderShare))} or more");
    }
}
