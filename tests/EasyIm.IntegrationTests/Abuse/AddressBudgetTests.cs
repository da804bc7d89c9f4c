using EasyIm.Gateway;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Abuse;

/// <summary>
/// Floods from one client address against the gateway's per-address budgets as shipped, on a server of
/// their own (<see cref="ShippedBudgetsShape"/>). Each test attacks from a loopback address of its own and
/// checks that an address elsewhere is still served and the bystanders chat unharmed.
/// </summary>
public sealed class AddressBudgetTests(ShippedBudgetsShape shape) : IClassFixture<ShippedBudgetsShape>
{
    private static readonly GatewayOptions.ThrottleOptions Shipped = new GatewayOptions().Throttle;

    /// <summary>
    /// Repeats <paramref name="attempt"/> until it is refused 429 (at most twice the budget): returns the
    /// statuses before, and the refusal. The bucket refills evenly while the flood runs (one token each
    /// window / limit), so the flood is checked to get through the budget plus that refill, no more.
    /// </summary>
    private static async Task<(List<int> Served, ThrottledReply Refused)> FloodAsync(GatewayOptions.AddressBudget budget, Func<int, Task<ThrottledReply>> attempt)
    {
        var served = new List<int>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 2 * budget.Limit + 1; i++)
        {
            var reply = await attempt(i);
            if (reply.Status == 429)
            {
                var refill = (int)(watch.Elapsed.TotalSeconds * budget.Limit / budget.WindowSeconds) + 1;
                Assert.InRange(served.Count, budget.Limit, budget.Limit + refill);
                Assert.Equal(429, reply.Code);
                Assert.InRange(reply.RetryAfter ?? 0, 1, budget.WindowSeconds);
                return (served, reply);
            }
            served.Add(reply.Status);
        }
        Assert.Fail($"{served.Count} attempts from one address, none refused");
        throw new InvalidOperationException();
    }

    [Fact]
    public async Task A_registration_flood_from_one_address_gets_429_after_its_budget_and_another_address_still_registers()
    {
        var by = await Bystanders.StartAsync(shape);
        using var attacker = LoopbackClients.From("127.0.0.11", shape.ApiBase);
        using var someoneElse = LoopbackClients.From("127.0.0.12", shape.ApiBase);

        var refusedAccount = "";
        var (served, refused) = await FloodAsync(Shipped.Register, async _ => await attacker.RegisterAsync(refusedAccount = LoopbackClients.NewAccount()));

        Assert.All(served, s => Assert.Equal(200, s));
        Assert.Contains("registrations", refused.Msg);
        Assert.Equal(401, (await someoneElse.LoginAsync(refusedAccount, "pass-word-1")).Status);
        Assert.Equal(200, (await someoneElse.RegisterAsync()).Status);
        await by.VerifyAsync();
    }

    [Fact]
    public async Task Password_spraying_over_many_accounts_from_one_address_gets_429_and_a_user_elsewhere_logs_in()
    {
        var by = await Bystanders.StartAsync(shape);
        using var attacker = LoopbackClients.From("127.0.0.13", shape.ApiBase);
        using var user = LoopbackClients.From("127.0.0.14", shape.ApiBase);
        var account = LoopbackClients.NewAccount();
        Assert.Equal(200, (await user.RegisterAsync(account)).Status);

        // One guess per account, so no account's own budget is reached: only the address's is.
        var (served, _) = await FloodAsync(Shipped.Login, _ => attacker.LoginAsync(LoopbackClients.NewAccount(), "password1"));
        var refused = await attacker.LoginAsync(account, "pass-word-1");

        Assert.All(served, s => Assert.Equal(401, s));
        Assert.Equal(429, refused.Status);
        Assert.NotNull(refused.RetryAfter);
        Assert.Equal(200, (await user.LoginAsync(account, "pass-word-1")).Status);
        await by.VerifyAsync();
    }

    [Fact]
    public async Task Token_refreshes_are_budgeted_per_address_and_X_Forwarded_For_from_an_untrusted_peer_changes_nothing()
    {
        var by = await Bystanders.StartAsync(shape);
        using var attacker = LoopbackClients.From("127.0.0.15", shape.ApiBase);
        using var owner = LoopbackClients.From("127.0.0.16", shape.ApiBase);
        var registered = await owner.RegisterAsync();
        var refreshToken = registered.Data.GetProperty("refresh_token").GetString()!;

        // Each attempt claims another client address: no proxy is trusted, so the claim is ignored.
        var (served, _) = await FloodAsync(Shipped.Refresh, i => attacker.PostAsync("/api/user/refresh_token",
            new { grant_type = "access_token", refresh_token = "forged." + i },
            new Dictionary<string, string> { ["X-Forwarded-For"] = $"198.51.100.{i % 250 + 1}" }));

        Assert.All(served, s => Assert.Equal(401, s));
        Assert.Equal(200, (await owner.PostAsync("/api/user/refresh_token", new { grant_type = "access_token", refresh_token = refreshToken })).Status);
        await by.VerifyAsync();
    }

    [Fact]
    public async Task A_PROXY_header_from_a_peer_that_is_not_a_trusted_proxy_is_not_honoured()
    {
        var by = await Bystanders.StartAsync(shape);

        var answer = await LoopbackClients.RawAsync("127.0.0.17", shape.ApiPort, LoopbackClients.ProxyV1("198.51.100.7", 1234, shape.ApiPort),
            "POST", "/api/user/login", """{"account":"nobody1","password":"password1"}""");

        // The header is just bytes before the request line: HTTP refuses it; no login was tried.
        Assert.StartsWith("HTTP/1.1 400", answer);
        Assert.True((await shape.Http.GetAsync("/health/ready")).IsSuccessStatusCode);
        await by.VerifyAsync();
    }
}

/// <summary>
/// The gateway behind a TCP proxy it trusts (<see cref="ProxiedShape"/>): the PROXY protocol header names the
/// client, and the client's address, not the proxy's, is what is budgeted. A connection from the proxy without
/// a valid header is closed unanswered.
/// </summary>
public sealed class TrustedProxyTests(ProxiedShape shape) : IClassFixture<ProxiedShape>
{
    private Task<string> RefreshThroughProxyAsync(byte[] header, int port) =>
        LoopbackClients.RawAsync(ProxiedShape.Proxy, port, header, "POST", "/api/user/refresh_token",
            """{"grant_type":"access_token","refresh_token":"forged"}""");

    [Fact]
    public async Task The_client_named_by_the_proxy_is_budgeted_not_the_proxy_on_both_ports()
    {
        var by = await Bystanders.StartAsync(shape);

        foreach (var (port, client) in new[] { (shape.ApiPort, "198.51.100.20"), (shape.SocketPort, "198.51.100.21") })
        {
            var answers = new List<string>();
            for (var i = 0; i <= ProxiedShape.RefreshBudget; i++)
                answers.Add(await RefreshThroughProxyAsync(LoopbackClients.ProxyV1(client, 40000 + i, port), port));
            var otherClient = await RefreshThroughProxyAsync(LoopbackClients.ProxyV1("198.51.100.99", 40100, port), port);

            Assert.All(answers.Take(ProxiedShape.RefreshBudget), a => Assert.StartsWith("HTTP/1.1 401", a));
            Assert.StartsWith("HTTP/1.1 429", answers[^1]);
            Assert.Contains("Retry-After:", answers[^1], StringComparison.OrdinalIgnoreCase);
            Assert.StartsWith("HTTP/1.1 401", otherClient);
        }
        await by.VerifyAsync();
    }

    [Fact]
    public async Task A_v2_header_names_the_client_too()
    {
        var header = new byte[] { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C,
            198, 51, 100, 30, 127, 0, 0, 1, 0x9C, 0x40, 0x22, 0xB9 };

        var answers = new List<string>();
        for (var i = 0; i <= ProxiedShape.RefreshBudget; i++)
            answers.Add(await RefreshThroughProxyAsync(header, shape.ApiPort));

        Assert.All(answers.Take(ProxiedShape.RefreshBudget), a => Assert.StartsWith("HTTP/1.1 401", a));
        Assert.StartsWith("HTTP/1.1 429", answers[^1]);
    }

    [Fact]
    public async Task A_connection_from_the_trusted_proxy_without_a_header_is_closed_unanswered_while_others_are_served()
    {
        var by = await Bystanders.StartAsync(shape);

        var answer = await RefreshThroughProxyAsync([], shape.ApiPort);
        var garbage = await RefreshThroughProxyAsync("PROXY TCP4 not-an-address 127.0.0.1 1 2\r\n"u8.ToArray(), shape.ApiPort);

        Assert.Equal("", answer);
        Assert.Equal("", garbage);
        Assert.True((await shape.Http.GetAsync("/health/ready")).IsSuccessStatusCode);
        await by.VerifyAsync();
    }
}

/// <summary>
/// The gateway behind an HTTP reverse proxy it trusts (<see cref="HttpProxiedShape"/>): the proxy's
/// <c>X-Forwarded-For</c> names the client, read from the right, so entries a client writes itself in front
/// of the proxy's change nothing.
/// </summary>
public sealed class TrustedHttpProxyTests(HttpProxiedShape shape) : IClassFixture<HttpProxiedShape>
{
    [Fact]
    public async Task The_client_the_proxy_appends_is_budgeted_whatever_the_client_wrote_before_it()
    {
        var by = await Bystanders.StartAsync(shape);
        using var proxy = LoopbackClients.From(HttpProxiedShape.Proxy, shape.ApiBase);
        Task<ThrottledReply> RefreshAsync(string? forwardedFor) => proxy.PostAsync("/api/user/refresh_token",
            new { grant_type = "access_token", refresh_token = "forged" },
            forwardedFor is null ? null : new Dictionary<string, string> { ["X-Forwarded-For"] = forwardedFor });

        // The client forges a different first entry each time; the proxy appends the address it saw.
        var statuses = new List<int>();
        for (var i = 0; i <= HttpProxiedShape.RefreshBudget; i++)
            statuses.Add((await RefreshAsync($"203.0.113.{i + 1}, 198.51.100.50")).Status);
        var otherClient = await RefreshAsync("198.51.100.51");
        var theProxyItself = await RefreshAsync(null);

        Assert.Equal([.. Enumerable.Repeat(401, HttpProxiedShape.RefreshBudget), 429], statuses);
        Assert.Equal(401, otherClient.Status);
        Assert.Equal(401, theProxyItself.Status);
        await by.VerifyAsync();
    }

    [Fact]
    public async Task X_Forwarded_For_from_anyone_but_the_proxy_is_ignored()
    {
        using var client = LoopbackClients.From("127.0.0.31", shape.ApiBase);

        var statuses = new List<int>();
        for (var i = 0; i <= HttpProxiedShape.RefreshBudget; i++)
        {
            statuses.Add((await client.PostAsync("/api/user/refresh_token", new { grant_type = "access_token", refresh_token = "forged" },
                new Dictionary<string, string> { ["X-Forwarded-For"] = $"198.51.100.{60 + i}" })).Status);
        }

        Assert.Equal([.. Enumerable.Repeat(401, HttpProxiedShape.RefreshBudget), 429], statuses);
    }
}
