using EasyIm.IntegrationTests.Telemetry;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Faults;

/// <summary>
/// Faults under traffic, with real processes on a real RabbitMQ and PostgreSQL (their own, see
/// <see cref="FaultInfrastructure"/>). Each test ends the same way: every message acked SENT is
/// delivered exactly once after de-duplication, in its sender's order (<see cref="ChatTraffic"/>).
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class FaultTests : FaultTestClass
{
    private const int Lanes = 4;
    private const int PerSender = 120;
    private static readonly TimeSpan SendFor = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan DeliveredWithin = TimeSpan.FromSeconds(30);

    private async Task<ChatTraffic> StartTrafficAsync(int gateways, int messaging, bool bothWays = false)
    {
        Skip.If(Infrastructure is null, Missing);
        Cluster = await ProcessCluster.StartAsync(Infrastructure!, gateways, messaging);
        var pairs = new List<(TestUser, TestUser)>();
        for (var i = 0; i < Lanes; i += bothWays ? 2 : 1)
        {
            var a = await Cluster.NewUserAsync();
            var b = await Cluster.NewUserAsync();
            await Cluster.MakeFriendsAsync(a, b);
            pairs.Add((a, b));
            if (bothWays)
                pairs.Add((b, a));
        }
        var cluster = Cluster;
        var traffic = new ChatTraffic(cluster.LiveGatewayPorts, pairs, PerSender, SendFor);
        await traffic.StartAsync();
        await traffic.WaitForAckedAsync(traffic.Total / 3, TimeSpan.FromSeconds(60));
        return traffic;
    }

    [SkippableFact]
    public async Task Killing_a_gateway_under_traffic_loses_no_acked_message_and_its_lease_ends()
    {
        var traffic = await StartTrafficAsync(gateways: 2, messaging: 1);
        var dead = Cluster!.Gateways[0];

        await dead.KillAsync();

        await traffic.StopAndVerifyAsync(DeliveredWithin, Cluster.Logs);
        Assert.True(traffic.Reconnects > 0, "the dead gateway's clients reconnected elsewhere");
        // Presence drops the dead gateway once its lease ends (three missed 5 s beats, on the surviving gateway's clock)...
        await Cluster.Messaging[0].Process!.WaitForOutputAsync($"Gateway {dead.GatewayId} missed", TimeSpan.FromSeconds(40));
        // ...and its queue went with its connection, so nothing more can be sent to it.
        var gone = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await Cluster.QueueAsync($"gateway-{dead.GatewayId}") is not null && DateTime.UtcNow < gone)
            await Task.Delay(200);
        Assert.True(await Cluster.QueueAsync($"gateway-{dead.GatewayId}") is null, await Cluster.QueuesAsync());
    }

    [SkippableFact]
    public async Task Restarting_messaging_under_traffic_loses_no_acked_message()
    {
        var traffic = await StartTrafficAsync(gateways: 2, messaging: 1);

        await ProcessCluster.RestartAsync(Cluster!.Messaging[0]);

        await traffic.StopAndVerifyAsync(DeliveredWithin, Cluster.Logs, pushesMayBeLost: true);
    }

    [SkippableFact]
    public async Task Restarting_RabbitMQ_under_traffic_loses_no_acked_message()
    {
        var traffic = await StartTrafficAsync(gateways: 2, messaging: 1);

        await Cluster!.Infrastructure.RunControlAsync("restart-rabbitmq");

        await traffic.StopAndVerifyAsync(DeliveredWithin, Cluster.Logs);
        // Pushes sent while a gateway's queue was gone were lost: each gateway synced its connections once consuming again.
        foreach (var gateway in Cluster.Gateways)
            await gateway.Process!.WaitForOutputAsync("is consuming again after a broker fault", TimeSpan.FromSeconds(30));
        // The batches the gateways could not send while the broker was away are counted, as an operator sees them.
        var busErrors = 0.0;
        foreach (var node in Cluster.Gateways.Concat(Cluster.Messaging))
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{node.ApiPort}"), Timeout = TimeSpan.FromSeconds(30) };
            busErrors += Prometheus.Value(await Prometheus.ScrapeAsync(http), "easyim_bus_errors_total");
        }
        Assert.True(busErrors > 0, "easyim_bus_errors_total stayed 0 across a broker restart under traffic\n" + Cluster.Logs());
    }

    [SkippableFact]
    public async Task Restarting_PostgreSQL_under_traffic_loses_no_acked_message()
    {
        var traffic = await StartTrafficAsync(gateways: 2, messaging: 1);

        await Cluster!.Infrastructure.RunControlAsync("restart-postgres");

        await traffic.StopAndVerifyAsync(DeliveredWithin, Cluster.Logs);
    }

    [SkippableFact]
    public async Task Two_messaging_instances_keep_each_senders_order_without_duplicates_when_one_dies()
    {
        // Both directions of each conversation, senders on different gateways (so, partitions): two
        // writers may number one conversation at once.
        var traffic = await StartTrafficAsync(gateways: 2, messaging: 2, bothWays: true);

        await Cluster!.Messaging[0].KillAsync();

        await traffic.StopAndVerifyAsync(DeliveredWithin, Cluster.Logs, pushesMayBeLost: true);
    }
}
