using System.Globalization;
using System.Text.RegularExpressions;
using EasyIm.Client;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Telemetry;

/// <summary>The Prometheus scrape endpoint of a real <c>easyim</c> process, before and after a chat.</summary>
public sealed partial class MetricsTests
{
    [Fact]
    public async Task Scraped_metrics_count_connections_messages_and_delivery_latency_after_a_chat()
    {
        await using var server = await ServerProcesses.StandaloneAsync();
        var a = await server.NewUserAsync();
        var b = await server.NewUserAsync();
        await server.MakeFriendsAsync(a, b);
        var before = await ScrapeAsync(server);

        await using (var alice = await ConnectAsync(server, a))
        await using (var bob = await ConnectAsync(server, b))
        {
            for (var i = 1; i <= 3; i++)
            {
                await alice.SendAsync(Frames.Chat(b.Id, $"counted {i}", $"m-{i}", seq: (uint)i));
                await alice.AckAsync($"m-{i}");
                await bob.WaitForAsync(m => ShapeClients.IsChat(m, $"m-{i}"), ShapeClients.Wait);
            }
            // The exporter serves a scrape again for a moment (300 ms): scrape until this one is newer than the chat.
            var during = await ScrapeUntilAsync(server, text => Value(text, "easyim_messages_stored_total") - Value(before, "easyim_messages_stored_total") >= 3
                && Value(text, "easyim_connections", "transport=\"tcp\"") >= 2);

            Assert.Equal(2, Value(during, "easyim_connections", "transport=\"tcp\""));
            Assert.Equal(3, Value(during, "easyim_messages_received_total") - Value(before, "easyim_messages_received_total"));
            Assert.Equal(3, Value(during, "easyim_messages_stored_total") - Value(before, "easyim_messages_stored_total"));
            // Each message: the sender's SENT ack and the recipient's copy (one push when they share the gateway, as here).
            Assert.True(Value(during, "easyim_messages_pushed_total") - Value(before, "easyim_messages_pushed_total") >= 3, during);
            Assert.True(Value(during, "easyim_delivery_latency_milliseconds_count") >= 3, during);
            Assert.Equal(0, Value(during, "easyim_bus_errors_total"));
            Assert.Equal(0, Value(during, "easyim_database_errors_total"));
        }

        // Both connections closed: the gauge goes back down.
        var deadline = DateTime.UtcNow + ShapeClients.Wait;
        string after;
        do
        {
            after = await ScrapeAsync(server);
            if (Value(after, "easyim_connections", "transport=\"tcp\"") == 0)
                break;
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Equal(0, Value(after, "easyim_connections", "transport=\"tcp\""));
    }

    [Fact]
    public async Task Health_endpoints_answer_live_and_ready()
    {
        await using var server = await ServerProcesses.StandaloneAsync();

        var live = await server.Http.GetAsync("/health/live");
        var ready = await server.Http.GetAsync("/health/ready");

        Assert.True(live.IsSuccessStatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
    }

    /// <summary>Scrapes until <paramref name="fresh"/> holds or <see cref="ShapeClients.Wait"/> passes; the last scrape either way.</summary>
    private static async Task<string> ScrapeUntilAsync(ServerProcesses server, Func<string, bool> fresh)
    {
        var deadline = DateTime.UtcNow + ShapeClients.Wait;
        while (true)
        {
            var text = await ScrapeAsync(server);
            if (fresh(text) || DateTime.UtcNow >= deadline)
                return text;
            await Task.Delay(100);
        }
    }

    private static Task<string> ScrapeAsync(ServerProcesses server) => Prometheus.ScrapeAsync(server.Http);

    private static double Value(string scrape, string name, string? label = null) => Prometheus.Value(scrape, name, label);

    private static async Task<EasyImClient> ConnectAsync(ServerProcesses server, TestUser user)
    {
        var client = await EasyImClient.ConnectAsync("127.0.0.1", server.SocketPort, ClientTransport.TcpJson);
        await client.HandshakeAsync(user.Id, user.AccessToken);
        return client;
    }
}
