using System.Net;
using EasyIm.Gateway;
using EasyIm.Gateway.Http;
using EasyIm.Gateway.Proxies;
using EasyIm.Hosting;
using Microsoft.Extensions.Configuration;

namespace EasyIm.UnitTests.Gateway;

public class TrustedProxiesTests
{
    [Fact]
    public void Addresses_and_networks_are_trusted_and_nothing_else()
    {
        var trusted = TrustedProxies.Parse("10.0.0.5, 172.30.0.0/24;fd00::/8  127.0.0.2");

        Assert.True(trusted.Contains(IPAddress.Parse("10.0.0.5")));
        Assert.True(trusted.Contains(IPAddress.Parse("172.30.0.200")));
        Assert.True(trusted.Contains(IPAddress.Parse("fd00::1")));
        Assert.True(trusted.Contains(IPAddress.Parse("127.0.0.2")));
        Assert.False(trusted.Contains(IPAddress.Parse("10.0.0.6")));
        Assert.False(trusted.Contains(IPAddress.Parse("172.30.1.1")));
        Assert.False(trusted.Contains(IPAddress.Parse("127.0.0.1")));
        Assert.False(trusted.Contains(IPAddress.Parse("::1")));
        Assert.False(trusted.Contains(null));
    }

    [Fact]
    public void An_ipv4_peer_on_a_dual_mode_socket_is_compared_as_ipv4()
    {
        var trusted = TrustedProxies.Parse("172.30.0.0/24");

        Assert.True(trusted.Contains(IPAddress.Parse("::ffff:172.30.0.9")));
    }

    [Fact]
    public void Nothing_is_trusted_by_default_not_even_loopback()
    {
        foreach (var unset in new[] { null, "", "  " })
        {
            var trusted = TrustedProxies.Parse(unset);
            Assert.True(trusted.IsEmpty);
            Assert.False(trusted.Contains(IPAddress.Loopback));
        }
    }

    [Theory]
    [InlineData("lb")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.300")]
    public void A_bad_entry_stops_the_start_naming_the_key_and_the_entry(string entry)
    {
        var ex = Assert.Throws<StartupException>(() => new GatewayOptions { TrustedProxies = "10.0.0.5, " + entry }.Validate());

        Assert.Contains("Gateway:TrustedProxies", ex.Message);
        Assert.Contains(entry, ex.Message);
    }

    [Fact]
    public void The_proxies_may_be_given_as_one_list_or_as_a_configuration_array()
    {
        static GatewayOptions Read(Dictionary<string, string?> settings) =>
            GatewayOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

        var asText = TrustedProxies.Parse(Read(new() { ["Gateway:TrustedProxies"] = "10.0.0.5,172.30.0.0/24" }).TrustedProxies);
        var asArray = TrustedProxies.Parse(Read(new() { ["Gateway:TrustedProxies:0"] = "10.0.0.5", ["Gateway:TrustedProxies:1"] = "172.30.0.0/24" }).TrustedProxies);

        foreach (var trusted in new[] { asText, asArray })
        {
            Assert.True(trusted.Contains(IPAddress.Parse("10.0.0.5")));
            Assert.True(trusted.Contains(IPAddress.Parse("172.30.0.77")));
        }
    }

    [Fact]
    public void A_setting_of_the_wrong_type_stops_the_start_naming_its_key()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Gateway:Throttle:Login:Limit"] = "lots" }).Build();

        var ex = Assert.Throws<StartupException>(() => GatewayOptions.Read(configuration));

        Assert.Contains("Gateway:Throttle:Login:Limit", ex.Message);
    }

    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64")]
    public void A_client_is_budgeted_by_its_ipv4_address_or_its_ipv6_slash_64(string address, string key) =>
        Assert.Equal(key, ClientAddress.Key(IPAddress.Parse(address)));

    [Fact]
    public void Each_address_budget_is_validated_naming_its_key()
    {
        var options = new GatewayOptions();
        options.Throttle.Register.WindowSeconds = 0;

        var ex = Assert.Throws<StartupException>(options.Validate);

        Assert.Contains("Gateway:Throttle:Register:WindowSeconds", ex.Message);
    }

    [Theory]
    [InlineData(20, 3600, 180_000)]
    [InlineData(50, 300, 6_000)]
    [InlineData(100_000, 60, 0.6)]
    public void A_budget_is_a_bucket_of_its_limit_refilled_evenly_over_its_window(int limit, int window, double msPerToken)
    {
        var bucket = AddressThrottle.Bucket(new GatewayOptions.AddressBudget { Limit = limit, WindowSeconds = window });

        Assert.Equal(limit, bucket.TokenLimit);
        Assert.Equal(1, bucket.TokensPerPeriod);
        Assert.Equal(msPerToken, bucket.ReplenishmentPeriod.TotalMilliseconds, 3);
        Assert.Equal(0, bucket.QueueLimit);
        Assert.False(bucket.AutoReplenishment);
    }

    [Fact]
    public async Task A_spent_address_bucket_refuses_with_its_refill_time_as_retry_after()
    {
        using var limiter = new System.Threading.RateLimiting.TokenBucketRateLimiter(
            AddressThrottle.Bucket(new GatewayOptions.AddressBudget { Limit = 2, WindowSeconds = 60 }));

        Assert.True(limiter.AttemptAcquire().IsAcquired);
        Assert.True(limiter.AttemptAcquire().IsAcquired);
        using var refused = await limiter.AcquireAsync();

        Assert.False(refused.IsAcquired);
        Assert.True(refused.TryGetMetadata(System.Threading.RateLimiting.MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(30), retryAfter);
    }
}
