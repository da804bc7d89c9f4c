using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Abuse;
using EasyIm.IntegrationTests.Server;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Deploy;

/// <summary>
/// docker-compose.yml's load balancer, tested for real: nginx from the system with the shipped
/// <c>deploy/nginx.conf</c> in front of two gateway processes, on the distributed shape's RabbitMQ
/// and services. Clients speak to nginx only.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class LoadBalancerTests(DistributedShape shape)
{
    private string RequireNginx()
    {
        shape.RequireAvailable();
        var nginx = NginxProcess.Find();
        if (nginx is null && TestInfrastructure.Required)
            throw new InvalidOperationException(
                $"nginx is not installed, and {TestInfrastructure.RequireVariable} is set (Debian: apt-get install nginx libnginx-mod-stream)");
        Skip.If(nginx is null, "needs nginx with its stream module (Debian: apt-get install nginx libnginx-mod-stream)");
        return nginx!;
    }

    [SkippableFact]
    public async Task Tcp_and_WebSocket_clients_spread_over_both_gateways_and_chat_across_them_and_the_API_answers_through_the_balancer()
    {
        var nginx = RequireNginx();
        await using var cluster = await BalancedGateways.StartAsync(shape, nginx);
        using var http = cluster.NewApiClient();

        // The HTTP API through 8889: register, then log in and use the login's token.
        var a = await BalancedGateways.LoginAsync(http, await BalancedGateways.RegisterAsync(http));
        var b = await BalancedGateways.RegisterAsync(http);
        var c = await BalancedGateways.RegisterAsync(http);
        var d = await BalancedGateways.RegisterAsync(http);
        await BalancedGateways.MakeFriendsAsync(http, a, b);
        await BalancedGateways.MakeFriendsAsync(http, d, c);

        // One connection after the other: least_conn sends each to the gateway holding fewer.
        await using var onA = await cluster.ConnectAsync(a, ClientTransport.TcpJson);
        await using var onB = await cluster.ConnectAsync(b, ClientTransport.WebSocketJson);
        await using var onC = await cluster.ConnectAsync(c, ClientTransport.TcpProtobuf);
        await using var onD = await cluster.ConnectAsync(d, ClientTransport.WebSocketProtobuf);

        Assert.NotEqual(onA.Gateway, onB.Gateway);
        Assert.NotEqual(onC.Gateway, onD.Gateway);
        Assert.Equal([2, 2], cluster.ConnectionsPerGateway());

        // Users on different gateways chat through the balancer, both ways, in both formats.
        for (var i = 0; i < 5; i++)
            await onA.Client.SendAsync(Frames.Chat(b.Id, $"a to b {i}", $"ab-{i}"));
        Assert.Equal(Msg.Types.MsgStatus.Sent, (await onA.Client.AckAsync("ab-4")).Status);
        var atB = await onB.Client.ReceiveDistinctAsync(m => IsChat(m) && m.FromUserId == Id(a.Id), 5);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"a to b {i}"), atB.Select(m => m.Content));

        await onB.Client.SendAsync(Frames.Chat(a.Id, "b to a", "ba-1"));
        Assert.Equal("b to a", (await onA.Client.WaitForAsync(m => IsChat(m, "ba-1"), Wait)).Content);

        await onD.Client.SendAsync(Frames.Chat(c.Id, "d to c", "dc-1"));
        Assert.Equal("d to c", (await onC.Client.WaitForAsync(m => IsChat(m, "dc-1"), Wait)).Content);

        // compose's lb health check: the probe through the balancer's API port, for the web client at / (the gateways'
        // own health is on their management port there, which the balancer does not pass).
        var probe = await HealthProbeTests.RunProbeAsync(cluster.ApiPort.ToString(), "/");
        Assert.True(probe.ExitCode == 0, probe.Output);
    }

    [SkippableFact]
    public async Task With_nginx_tls_conf_clients_chat_over_tls_through_the_balancer_and_a_plaintext_client_is_closed_at_once()
    {
        var nginx = RequireNginx();
        using var ca = new ThrowawayCa();
        await using var cluster = await BalancedGateways.StartAsync(shape, nginx, tls: ca);
        using var https = cluster.NewApiClient();

        var a = await BalancedGateways.RegisterAsync(https);
        var b = await BalancedGateways.RegisterAsync(https);
        await BalancedGateways.MakeFriendsAsync(https, a, b);
        await using var onA = await cluster.ConnectAsync(a, ClientTransport.TcpJson);
        await using var onB = await cluster.ConnectAsync(b, ClientTransport.WebSocketProtobuf);
        await onA.Client.SendAsync(Frames.Chat(b.Id, "through tls", "lbtls-1"));
        Assert.Equal("through tls", (await onB.Client.WaitForAsync(m => IsChat(m, "lbtls-1"), Wait)).Content);

        // Plaintext to the balancer's TLS port: not a handshake, closed at once (a JSON heartbeat never reaches a gateway).
        using (var plain = new System.Net.Sockets.TcpClient())
        {
            await plain.ConnectAsync(System.Net.IPAddress.Loopback, cluster.SocketPort);
            var stream = plain.GetStream();
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes("{\"msg_type\":4,\"content\":\"{\\\"key\\\":\\\"KEEP_ALIVE\\\"}\"}\n"));
            using var timeout = new CancellationTokenSource(Wait);
            var read = 0;
            try
            {
                read = await stream.ReadAsync(new byte[1024], timeout.Token);
                while (read > 0 && !timeout.IsCancellationRequested)
                    read = await stream.ReadAsync(new byte[1024], timeout.Token);
            }
            catch (IOException)
            {
            }
            Assert.False(timeout.IsCancellationRequested, "the plaintext client was held open, not closed");
        }
        using (var http = new HttpClient { Timeout = Wait })
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => http.GetAsync($"http://127.0.0.1:{cluster.ApiPort}/"));

        // compose.tls's lb health check: curl -fsk https://127.0.0.1:8889/ answers.
        Assert.Equal(System.Net.HttpStatusCode.OK, (await https.GetAsync("/")).StatusCode);
    }

    [SkippableFact]
    public async Task Behind_nginx_the_gateway_budgets_each_clients_own_address_on_both_ports_not_the_balancers()
    {
        var nginx = RequireNginx();
        // One gateway: each gateway keeps its own per-address budgets, and nginx spreads API requests over them.
        await using var cluster = await BalancedGateways.StartAsync(shape, nginx, count: 1, settings: new Dictionary<string, string>
        {
            ["Gateway__Throttle__Refresh__Limit"] = "3",
            ["Gateway__Throttle__Refresh__WindowSeconds"] = "3600",
        });

        foreach (var (port, attacker, neighbour) in new[] { (cluster.ApiPort, "127.0.0.3", "127.0.0.4"), (cluster.SocketPort, "127.0.0.5", "127.0.0.6") })
        {
            var through = new Uri($"http://127.0.0.1:{port}");
            using var fromAttacker = LoopbackClients.From(attacker, through);
            using var fromNeighbour = LoopbackClients.From(neighbour, through);
            var forged = new { grant_type = "access_token", refresh_token = "forged" };

            // nginx's stream proxy passes HTTP through untouched, X-Forwarded-For too: from a client it counts for nothing.
            var statuses = new List<int>();
            for (var i = 0; i < 4; i++)
            {
                statuses.Add((await fromAttacker.PostAsync("/api/user/refresh_token", forged,
                    new Dictionary<string, string> { ["X-Forwarded-For"] = $"198.51.100.{i + 1}" })).Status);
            }
            var neighbourStatus = (await fromNeighbour.PostAsync("/api/user/refresh_token", forged)).Status;

            // Every request reached the gateway from nginx's 127.0.0.2: had it been budgeted, the neighbour would be refused too.
            Assert.Equal([401, 401, 401, 429], statuses);
            Assert.Equal(401, neighbourStatus);
        }
    }

    [SkippableFact]
    public async Task When_a_gateway_dies_its_clients_reconnect_through_the_balancer_to_the_other_and_sync_what_they_missed()
    {
        var nginx = RequireNginx();
        await using var cluster = await BalancedGateways.StartAsync(shape, nginx);
        using var http = cluster.NewApiClient();
        var a = await BalancedGateways.RegisterAsync(http);
        var b = await BalancedGateways.RegisterAsync(http);
        await BalancedGateways.MakeFriendsAsync(http, a, b);

        await using var onA = await cluster.ConnectAsync(a, ClientTransport.WebSocketJson);
        await using var onB = await cluster.ConnectAsync(b, ClientTransport.TcpProtobuf);
        Assert.NotEqual(onA.Gateway, onB.Gateway);
        await onB.Client.SendAsync(Frames.Chat(a.Id, "before", "before-1"));
        await onA.Client.WaitForAsync(m => IsChat(m, "before-1"), Wait);

        await cluster.KillGatewayAsync(onA.Gateway);

        // A's connection ends with its gateway; B's, on the other gateway, lives on and keeps sending.
        await onA.Client.Closed.WaitAsync(Wait);
        for (var i = 0; i < 5; i++)
            await onB.Client.SendAsync(Frames.Chat(a.Id, $"missed {i}", $"missed-{i}"));
        Assert.Equal(Msg.Types.MsgStatus.Sent, (await onB.Client.AckAsync("missed-4")).Status);
        Assert.False(onB.Client.IsClosed, onB.Client.CloseReason);

        // A comes back through the same balancer address: nginx finds the dead gateway refusing and
        // hands the connection to the live one, where the connect-time sync brings what A missed.
        // A fresh HTTP client: a pooled connection may have led to the dead gateway.
        using var httpAfter = cluster.NewApiClient();
        a = await BalancedGateways.LoginAsync(httpAfter, a);
        await using var again = await cluster.ConnectAsync(a, ClientTransport.TcpJson);
        Assert.Equal(onB.Gateway, again.Gateway);
        var missed = await again.Client.ReceiveDistinctAsync(m => IsChat(m) && m.Content.StartsWith("missed ", StringComparison.Ordinal), 5);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"missed {i}"), missed.Select(m => m.Content));

        // And the live path runs on the gateway A now uses.
        await onB.Client.SendAsync(Frames.Chat(a.Id, "after", "after-1"));
        await again.Client.WaitForAsync(m => IsChat(m, "after-1"), Wait);
        await again.Client.SendAsync(Frames.Chat(b.Id, "back", "back-1"));
        await onB.Client.WaitForAsync(m => IsChat(m, "back-1"), Wait);
    }
}
