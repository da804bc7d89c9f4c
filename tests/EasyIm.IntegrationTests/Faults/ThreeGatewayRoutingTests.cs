using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Shapes;
using MassTransit;
using RabbitMQ.Client;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Faults;

/// <summary>
/// Targeted delivery across three real gateway processes: a message to a user on gateway 2 is routed to
/// gateway 2's queue only. What reaches each gateway is observed exactly: the test binds a queue of its own
/// to each gateway's exchange (a gateway's queue gets exactly what its exchange routes), and reads it up to
/// a marker that every gateway gets after the messages (a logout, which every gateway hears).
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ThreeGatewayRoutingTests : FaultTestClass
{

    private static async Task<EasyImClient> ConnectAsync(ClusterNode gateway, TestUser user)
    {
        var client = await EasyImClient.ConnectAsync("127.0.0.1", gateway.SocketPort!.Value, ClientTransport.TcpJson);
        await client.HandshakeAsync(user.Id, user.AccessToken);
        await client.WaitForAsync(m => Frames.IsEvent(m, "SYNC"), Wait);
        return client;
    }

    [SkippableFact]
    public async Task A_delivery_to_a_user_on_gateway_2_reaches_gateway_2_and_not_gateways_1_and_3()
    {
        Skip.If(Infrastructure is null, Missing);
        const int count = 20;
        Cluster = await ProcessCluster.StartAsync(Infrastructure!, gateways: 3, messaging: 1);
        var (g1, g2, g3) = (Cluster.Gateways[0], Cluster.Gateways[1], Cluster.Gateways[2]);
        var a = await Cluster.NewUserAsync();
        var b = await Cluster.NewUserAsync();
        var c = await Cluster.NewUserAsync();
        var marker = await Cluster.NewUserAsync();
        await Cluster.MakeFriendsAsync(a, b);
        await using var onFirst = await ConnectAsync(g1, a);
        await using var onSecond = await ConnectAsync(g2, b);
        await using var onThird = await ConnectAsync(g3, c);
        await Cluster.WaitForWarmPresenceAsync();

        var factory = new ConnectionFactory { Uri = new UriBuilder(Infrastructure!.RabbitMq) { Path = "/" + Cluster.VirtualHost }.Uri };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var taps = new List<string>();
        foreach (var gateway in Cluster.Gateways)
        {
            var tap = await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true);
            await channel.QueueBindAsync(tap.QueueName, $"gateway-{gateway.GatewayId}", "");
            taps.Add(tap.QueueName);
        }

        for (var i = 0; i < count; i++)
            await onFirst.SendAsync(Frames.Chat(b.Id, $"to b {i}", $"r-{i}"));
        await onFirst.AckAsync($"r-{count - 1}");
        var got = await onSecond.ReceiveDistinctAsync(m => IsChat(m) && m.FromUserId == Id(a.Id), count);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"to b {i}"), got.Select(m => m.Content));
        using (var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{g3.ApiPort}") })
        {
            var logout = await http.PostAsJsonAsync("/api/user/logout", new { access_token = marker.AccessToken });
            Assert.True(logout.IsSuccessStatusCode);
        }

        var routed = new List<List<long>>();
        foreach (var tap in taps)
            routed.Add(await PushedUsersUntilMarkerAsync(channel, tap, marker.Id));

        Assert.Contains(b.Id, routed[1]);
        Assert.DoesNotContain(b.Id, routed[0]);
        Assert.DoesNotContain(b.Id, routed[2]);
        // Gateway 1 got the sender's acks, and gateway 3, which holds neither user, nothing at all.
        Assert.Contains(a.Id, routed[0]);
        Assert.Empty(routed[2]);
    }

    /// <summary>The users of every <c>PushToUsers</c> in the queue before the marker's revocation (bounded wait).</summary>
    private static async Task<List<long>> PushedUsersUntilMarkerAsync(IChannel channel, string queue, long markerUserId)
    {
        var users = new List<long>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var next = await channel.BasicGetAsync(queue, autoAck: true);
            if (next is null)
            {
                await Task.Delay(50);
                continue;
            }
            // The bus sends raw JSON: the body is the message, its types are a transport header.
            var types = next.BasicProperties.Headers?.TryGetValue(MessageHeaders.MessageType, out var header) == true && header is byte[] named
                ? Encoding.UTF8.GetString(named).Split(';').ToList()
                : throw new InvalidDataException($"a message in {queue} without the {MessageHeaders.MessageType} header");
            using var body = JsonDocument.Parse(next.Body);
            var message = body.RootElement;
            if (types.Any(t => t!.EndsWith(":UserTokensRevoked", StringComparison.Ordinal)) && message.GetProperty("userId").GetInt64() == markerUserId)
                return users;
            if (!types.Any(t => t!.EndsWith(":PushToUsers", StringComparison.Ordinal)))
                continue;
            foreach (var push in message.GetProperty("pushes").EnumerateArray())
            {
                users.Add(push.GetProperty("userId").GetInt64());
                if (push.TryGetProperty("alsoUserIds", out var also) && also.ValueKind == JsonValueKind.Array)
                    users.AddRange(also.EnumerateArray().Select(u => u.GetInt64()));
            }
        }
        throw new TimeoutException($"the marker did not reach {queue} within 30 s");
    }
}
