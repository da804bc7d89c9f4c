using System.Diagnostics;
using System.Text.RegularExpressions;
using EasyIm.Contracts.Messaging;
using EasyIm.IntegrationTests.Shapes;
using EasyIm.IntegrationTests.Telemetry;

namespace EasyIm.IntegrationTests.Faults;

/// <summary>
/// The chat partitions' active consumers spread over the live messaging processes (docs/architecture.md,
/// "Several instances"), observed in RabbitMQ's management API: each partition queue's active consumer carries
/// its process's id in its tag. A hand-over under traffic refuses no message and loses none; a process killed
/// still leaves its partitions to the others at once.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed partial class PartitionRebalanceTests : FaultTestClass
{
    private static readonly TimeSpan BalancedWithin = TimeSpan.FromSeconds(60);

    [GeneratedRegex(@"Messaging instance (?<id>[0-9a-f]{12}) shares the chat partitions")]
    private static partial Regex InstanceLine();

    private static async Task<string> InstanceIdAsync(ClusterNode node)
    {
        await node.Process!.WaitForOutputAsync("shares the chat partitions", TimeSpan.FromSeconds(60));
        return InstanceLine().Match(node.Process.Stdout).Groups["id"].Value;
    }

    private static int HandOvers(ClusterNode node) => Regex.Count(node.Process!.Stdout, "Handed chat partition");

    /// <summary>Each partition's active consumer's process id (null: none active), as the broker reports it.</summary>
    private async Task<(string?[] Active, int[] Consumers)> ActiveAsync()
    {
        var active = new string?[ChatPartitions.Count];
        var consumers = new int[ChatPartitions.Count];
        for (var p = 0; p < ChatPartitions.Count; p++)
        {
            var (tag, count) = await Cluster!.ActiveConsumerAsync(ChatPartitions.QueueName(p));
            active[p] = tag?.Split('-')[0];
            consumers[p] = count;
        }
        return (active, consumers);
    }

    /// <summary>Waits (bounded) until partition p's active consumer is <c>expected(p)</c> for every p, each process also standing by on every partition.</summary>
    private async Task WaitForActiveAsync(Func<int, string> expected, int processes, TimeSpan within)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            var (active, consumers) = await ActiveAsync();
            if (Enumerable.Range(0, ChatPartitions.Count).All(p => active[p] == expected(p) && consumers[p] == processes))
                return;
            if (stopwatch.Elapsed > within)
                Assert.Fail($"partitions' active consumers [{string.Join(", ", active)}] with [{string.Join(", ", consumers)}] consumers, " +
                    $"expected [{string.Join(", ", Enumerable.Range(0, ChatPartitions.Count).Select(expected))}] with {processes} each, after {within.TotalSeconds} s\n{Cluster!.Logs()}");
            await Task.Delay(250);
        }
    }

    private static Func<int, string> Owners(params string[] ids)
    {
        var sorted = ids.Order(StringComparer.Ordinal).ToList();
        return p => sorted[p % sorted.Count];
    }

    [SkippableFact]
    public async Task Two_messaging_instances_are_each_the_active_consumer_of_four_partitions()
    {
        Skip.If(Infrastructure is null, Missing);
        Cluster = await ProcessCluster.StartAsync(Infrastructure!, gateways: 1, messaging: 2);
        var ids = await Task.WhenAll(Cluster.Messaging.Select(InstanceIdAsync));
        Assert.NotEqual(ids[0], ids[1]);

        await WaitForActiveAsync(Owners(ids), processes: 2, BalancedWithin);

        var (active, _) = await ActiveAsync();
        Assert.Equal(4, active.Count(a => a == ids[0]));
        Assert.Equal(4, active.Count(a => a == ids[1]));
        // Each handed over the four it does not own, once: a hand-over closes one channel, not the process's
        // connection (whose loss would make every consumer register again, and hand over again).
        foreach (var node in Cluster.Messaging)
        {
            var stopwatch = Stopwatch.StartNew();
            while (HandOvers(node) < 4 && stopwatch.Elapsed < BalancedWithin)
                await Task.Delay(100);
            Assert.True(HandOvers(node) == 4, $"{HandOvers(node)} hand-overs, expected 4\n{node.Process!.Stdout}");
            // Counted as hand-overs, not as bus errors (a receive endpoint that lost the broker).
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{node.ApiPort}"), Timeout = TimeSpan.FromSeconds(10) };
            var scrape = await Prometheus.ScrapeAsync(http);
            Assert.Equal(4, Prometheus.Value(scrape, "easyim_partitions_handovers_total"));
            Assert.Equal(0, Prometheus.Value(scrape, "easyim_bus_errors_total"));
        }
        await AssertNoErrorQueuesAsync();
    }

    [SkippableFact]
    public async Task Three_messaging_instances_share_the_partitions_three_three_and_two()
    {
        Skip.If(Infrastructure is null, Missing);
        Cluster = await ProcessCluster.StartAsync(Infrastructure!, gateways: 1, messaging: 3);
        var ids = await Task.WhenAll(Cluster.Messaging.Select(InstanceIdAsync));

        await WaitForActiveAsync(Owners(ids), processes: 3, BalancedWithin);

        var (active, _) = await ActiveAsync();
        Assert.Equal([2, 3, 3], ids.Select(id => active.Count(a => a == id)).Order());
        await AssertNoErrorQueuesAsync();
    }

    /// <summary>Nothing was refused or faulted by moving partitions: no partition has an error queue.</summary>
    private async Task AssertNoErrorQueuesAsync()
    {
        for (var p = 0; p < ChatPartitions.Count; p++)
            Assert.Null(await Cluster!.QueueAsync(ChatPartitions.QueueName(p) + "_error"));
    }

    [SkippableFact]
    public async Task A_second_instance_joining_under_traffic_takes_its_partitions_cleanly_and_a_kill_leaves_them_all_to_the_other()
    {
        Skip.If(Infrastructure is null, Missing);
        // Four gateways on partitions 0 to 3: whichever order the two processes' ids sort in, each owns two of them.
        Cluster = await ProcessCluster.StartAsync(Infrastructure!, gateways: 4, messaging: 1, gatewayPartitions: [0, 1, 2, 3]);
        var first = await InstanceIdAsync(Cluster.Messaging[0]);
        await WaitForActiveAsync(_ => first, processes: 1, BalancedWithin);
        var pairs = new List<(TestUser, TestUser)>();
        for (var i = 0; i < 4; i++)
        {
            var a = await Cluster.NewUserAsync();
            var b = await Cluster.NewUserAsync();
            await Cluster.MakeFriendsAsync(a, b);
            pairs.Add((a, b));
        }
        var cluster = Cluster;
        var traffic = new ChatTraffic(cluster.LiveGatewayPorts, pairs, perSender: 2500, sendFor: TimeSpan.FromSeconds(150));
        await traffic.StartAsync();
        await traffic.WaitForAckedAsync(200, TimeSpan.FromSeconds(60));

        // The second process joins while every gateway sends: half of the loaded partitions move to it.
        var health = new HealthWatch();
        var watching = health.WatchAsync(Cluster.Messaging[0].ApiPort);
        var second = await Cluster.AddMessagingAsync();
        var secondId = await InstanceIdAsync(second);
        await WaitForActiveAsync(Owners(first, secondId), processes: 2, BalancedWithin);
        await Cluster.Messaging[0].Process!.WaitForOutputAsync("Handed chat partition", TimeSpan.FromSeconds(10));
        var ackedAtBalance = traffic.Acked;
        await traffic.WaitForAckedAsync(ackedAtBalance + 200, TimeSpan.FromSeconds(60));
        await health.StopAsync(watching);

        // Clean: no sender was refused or had its connection closed. (A hand-over slower than the clients' 4 s ack
        // timeout would show as reconnects without a close: reported, not failed, on a loaded machine.)
        Assert.True(traffic.Fails == 0 && traffic.Closes == 0,
            $"the hand-over cost {traffic.Fails} FAILs and {traffic.Closes} closed connections ({traffic.Reconnects} reconnects)\n{Cluster.Logs()}");
        Assert.True(health.NotReady.Count == 0, "/health/ready of the first process answered " + string.Join(", ", health.NotReady));
        Assert.True(traffic.Acked < traffic.Total, "traffic was still running at the hand-over's end");
        using (var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Cluster.Messaging[0].ApiPort}"), Timeout = TimeSpan.FromSeconds(10) })
        {
            var scrape = await Prometheus.ScrapeAsync(http);
            Assert.True(Prometheus.Value(scrape, "easyim_partitions_handovers_total") >= 4, scrape);
            Assert.Equal(0, Prometheus.Value(scrape, "easyim_bus_errors_total"));
        }

        // Killed (kill -9): the broker hands the dead process's partitions to the other at once.
        var dead = Cluster.Messaging[0];
        await dead.KillAsync();
        await WaitForActiveAsync(_ => secondId, processes: 1, TimeSpan.FromSeconds(20));

        await traffic.StopAndVerifyAsync(TimeSpan.FromSeconds(30), Cluster.Logs, pushesMayBeLost: true);
        await AssertNoErrorQueuesAsync();
    }

    /// <summary>Asks a process's <c>/health/ready</c> every 200 ms until stopped, and keeps every answer that was not 200.</summary>
    private sealed class HealthWatch
    {
        private readonly CancellationTokenSource _stop = new();
        public List<string> NotReady { get; } = [];

        public async Task WatchAsync(int apiPort)
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}"), Timeout = TimeSpan.FromSeconds(10) };
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await http.GetAsync("/health/ready", _stop.Token);
                    if ((int)response.StatusCode != 200)
                        NotReady.Add($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                    await Task.Delay(200, _stop.Token);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
            }
        }

        public async Task StopAsync(Task watching)
        {
            await _stop.CancelAsync();
            await watching;
        }
    }
}
