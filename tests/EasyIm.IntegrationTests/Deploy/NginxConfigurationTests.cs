namespace EasyIm.IntegrationTests.Deploy;

/// <summary>How LoadBalancerTests turns the shipped <c>deploy/nginx.conf</c> into one for loopback ports.</summary>
public sealed class NginxConfigurationTests
{
    private static readonly string Shipped = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "deploy", "nginx.conf"));

    [Fact]
    public void Only_the_addresses_ports_and_resolver_change_and_the_proxy_settings_stay()
    {
        var adapted = NginxProcess.AdaptConfiguration(Shipped, [10001, 10002], [10011, 10012], 20001, 20002);

        Assert.DoesNotMatch(@"server\s+gateway:", adapted);
        Assert.DoesNotMatch(@"(?m)^\s*resolver\s", adapted);
        Assert.Contains("server 127.0.0.1:10001; server 127.0.0.1:10002;", adapted);
        Assert.Contains("server 127.0.0.1:10011; server 127.0.0.1:10012;", adapted);
        Assert.Contains("listen 127.0.0.1:20001;", adapted);
        Assert.Contains("listen 127.0.0.1:20002;", adapted);
        foreach (var setting in new[] { "least_conn;", "proxy_timeout 330s;", "proxy_connect_timeout 3s;", "proxy_next_upstream on;", "zone gateway_connections 64k;" })
            Assert.Contains(setting, adapted);
        Assert.Contains($"proxy_bind {NginxProcess.ProxyAddress};", adapted);
        // Both servers send the client's address to the gateways.
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(adapted, @"(?m)^\s*proxy_protocol\s+on;").Count);
    }

    [Theory]
    [InlineData("server gateway:8888 resolve;", "server gateway:8888;")]
    [InlineData("listen 8889;", "listen 9999;")]
    [InlineData("resolver 127.0.0.11 valid=10s;", "")]
    [InlineData("proxy_next_upstream on;", "proxy_next_upstream off;")]
    public void A_changed_file_stops_the_test_naming_what_it_no_longer_finds(string part, string changedTo)
    {
        Assert.Contains(part, Shipped);

        var ex = Assert.Throws<InvalidOperationException>(() =>
            NginxProcess.AdaptConfiguration(Shipped.Replace(part, changedTo), [1], [2], 3, 4));

        Assert.Contains("deploy/nginx.conf has 0 matches", ex.Message);
    }

    [Fact]
    public void The_by_hand_configuration_is_the_shipped_one_for_three_gateways_on_fixed_ports()
    {
        var local = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "deploy", "nginx-local.conf"));
        var adapted = NginxProcess.AdaptConfiguration(Shipped, [9011, 9021, 9031], [9012, 9022, 9032], 8888, 8889);

        // Apart from its header (module, log, pid for a user's own nginx) and comments, line for line the same.
        Assert.Equal(Directives(adapted), Directives(local[local.IndexOf("events {}", StringComparison.Ordinal)..]));
    }

    private static List<string> Directives(string configuration) =>
        configuration.Split('\n').Select(l => l.Split('#')[0].Trim()).Where(l => l.Length > 0).ToList();
}

