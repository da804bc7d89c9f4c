using System.Net.Http.Json;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using EasyIm.Client;
using EasyIm.IntegrationTests.Server;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Deploy;

/// <summary>
/// What <c>docker compose up --scale gateway=2</c> runs in front of the services: two gateway
/// processes of the built executable on the distributed shape's broker (so its auth, friends and
/// messaging serve them), and nginx with <c>deploy/nginx.conf</c> in front of both.
/// </summary>
public sealed class BalancedGateways : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private readonly DirectoryInfo _workDir = Directory.CreateTempSubdirectory("easyim-lb-");
    private readonly List<EasyImProcess?> _gateways = [];
    private NginxProcess? _nginx;

    /// <summary>Each gateway's long-connection and API ports, by index.</summary>
    public IReadOnlyList<(int Socket, int Api)> Gateways { get; }

    /// <summary>The balancer's ports: compose's 8888 (long connections) and 8889 (HTTP API).</summary>
    public int SocketPort { get; } = TestInfrastructure.FreePort();
    public int ApiPort { get; } = TestInfrastructure.FreePort();
    public Uri ApiBase => new($"{(Tls is null ? "http" : "https")}://127.0.0.1:{ApiPort}");

    /// <summary>With <c>deploy/nginx-tls.conf</c>: the CA of the balancer's certificate, which this cluster's clients trust.</summary>
    public ThrowawayCa? Tls { get; private init; }

    private BalancedGateways(int count) =>
        Gateways = Enumerable.Range(0, count).Select(_ => (TestInfrastructure.FreePort(), TestInfrastructure.FreePort())).ToList();

    /// <param name="settings">More environment for the gateways (e.g. <c>Gateway__Throttle__...</c>).</param>
    /// <param name="tls">Run <c>deploy/nginx-tls.conf</c> (TLS terminated at the balancer) with a certificate of this CA.</param>
    public static async Task<BalancedGateways> StartAsync(DistributedShape shape, string nginx, int count = 2, IDictionary<string, string>? settings = null,
        ThrowawayCa? tls = null)
    {
        var cluster = new BalancedGateways(count) { Tls = tls };
        try
        {
            foreach (var (socket, api) in cluster.Gateways)
            {
                var environment = new Dictionary<string, string>
                {
                    ["Bus__Transport"] = "RabbitMq",
                    ["ConnectionStrings__rabbitmq"] = shape.RabbitMqFor("gateway"),
                    ["EasyIm__ListenAddress"] = "127.0.0.1",
                    ["Gateway__Port"] = socket.ToString(),
                    ["Gateway__ApiPort"] = api.ToString(),
                    // As compose's gateways trust its lb: nginx opens each connection with the client's address.
                    ["Gateway__TrustedProxies"] = NginxProcess.ProxyAddress,
                };
                foreach (var (key, value) in settings ?? new Dictionary<string, string>())
                    environment[key] = value;
                cluster._gateways.Add(EasyImProcess.Start(["--target", "gateway"], cluster._workDir.FullName, environment));
            }
            for (var i = 0; i < count; i++)
                await cluster.WaitUntilReadyAsync(i);

            var shipped = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "deploy", tls is null ? "nginx.conf" : "nginx-tls.conf"));
            if (tls is not null)
                tls.IssueServerCertificate();
            var configuration = NginxProcess.AdaptConfiguration(shipped,
                cluster.Gateways.Select(g => g.Socket).ToList(), cluster.Gateways.Select(g => g.Api).ToList(),
                cluster.SocketPort, cluster.ApiPort, tls is null ? null : Path.GetDirectoryName(tls.CertificatePath));
            cluster._nginx = await NginxProcess.StartAsync(nginx, configuration, StartTimeout);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private Task WaitUntilReadyAsync(int index) =>
        _gateways[index]!.WaitUntilReadyAsync(Gateways[index].Api, StartTimeout, $"gateway {index}");

    /// <summary>Kills a gateway process as a crash would (no graceful stop).</summary>
    public async Task KillGatewayAsync(int index)
    {
        var process = _gateways[index] ?? throw new InvalidOperationException($"gateway {index} is already gone");
        _gateways[index] = null;
        await process.DisposeAsync();
    }

    /// <summary>
    /// Established connections each gateway holds on its long-connection port, as the operating
    /// system sees them: every one arrived through nginx, since nothing else knows these ports.
    /// </summary>
    public int[] ConnectionsPerGateway()
    {
        var established = IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpConnections()
            .Where(c => c.State == TcpState.Established)
            .Select(c => c.LocalEndPoint.Port)
            .ToList();
        return Gateways.Select(g => established.Count(port => port == g.Socket)).ToArray();
    }

    /// <summary>
    /// Connects <paramref name="user"/> through the balancer, completes the handshake, and returns the
    /// client with the index of the gateway nginx chose: the one whose connection count went up.
    /// </summary>
    public async Task<BalancedConnection> ConnectAsync(TestUser user, ClientTransport transport)
    {
        var before = ConnectionsPerGateway();
        var client = await EasyImClient.ConnectAsync("127.0.0.1", SocketPort, transport,
            new EasyImClientOptions { KeepAliveEvery = TimeSpan.FromSeconds(2), Tls = Tls is not null, ServerCertificateValidation = Tls is null ? null : Tls.Validate });
        try
        {
            await client.HandshakeAsync(user.Id, user.AccessToken);
            // The handshake's answer came from a gateway, so its side of the connection is established.
            var after = ConnectionsPerGateway();
            var grown = Enumerable.Range(0, Gateways.Count).Where(i => after[i] == before[i] + 1).ToList();
            Assert.True(grown.Count == 1,
                $"expected one gateway to gain the connection: before [{string.Join(",", before)}], after [{string.Join(",", after)}]");
            return new BalancedConnection(client, grown[0]);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>An HTTP client for the balancer's API port, as a client of compose's 8889 has.</summary>
    public HttpClient NewApiClient() =>
        new(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = Tls is null ? null : Tls.Validate } })
        {
            BaseAddress = ApiBase,
            Timeout = TimeSpan.FromSeconds(30),
        };

    public static async Task<ApiReply> PostAsync(HttpClient http, string path, object body, string? bearer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (bearer is not null)
            request.Headers.Authorization = new("Bearer", bearer);
        using var response = await http.SendAsync(request);
        return await ApiReply.ReadAsync(response);
    }

    /// <summary>Registers a fresh user through <paramref name="http"/>.</summary>
    public static async Task<TestUser> RegisterAsync(HttpClient http)
    {
        var account = "lb" + Guid.NewGuid().ToString("N")[..12];
        const string password = "pass-word-1";
        var reply = await PostAsync(http, "/api/user/register", new { account, password });
        Assert.Equal(200, reply.Status);
        return new TestUser(long.Parse(reply.Data.GetProperty("id").GetString()!), account, password,
            reply.Data.GetProperty("access_token").GetString()!, reply.Data.GetProperty("refresh_token").GetString()!);
    }

    /// <summary>Logs <paramref name="user"/> in through <paramref name="http"/> and returns the user with the new access token.</summary>
    public static async Task<TestUser> LoginAsync(HttpClient http, TestUser user)
    {
        var reply = await PostAsync(http, "/api/user/login", new { account = user.Account, password = user.Password });
        Assert.Equal(200, reply.Status);
        Assert.Equal(user.Id.ToString(), reply.Data.GetProperty("id").GetString());
        return user with { AccessToken = reply.Data.GetProperty("access_token").GetString()! };
    }

    public static async Task MakeFriendsAsync(HttpClient http, TestUser a, TestUser b)
    {
        var invite = await PostAsync(http, "/api/user/friend/add", new { to_user_id = b.Id.ToString() }, a.AccessToken);
        Assert.Equal(200, invite.Status);
        var accept = await PostAsync(http, "/api/user/friend/accept", new { id = invite.Data.GetProperty("id").GetString() }, b.AccessToken);
        Assert.Equal(200, accept.Status);
    }

    public async ValueTask DisposeAsync()
    {
        if (_nginx is not null)
            await _nginx.DisposeAsync();
        foreach (var gateway in _gateways)
        {
            if (gateway is not null)
                await gateway.DisposeAsync();
        }
        _workDir.Delete(recursive: true);
    }
}

/// <summary>A client connected through the balancer, and the index of the gateway that holds its connection.</summary>
public sealed record BalancedConnection(EasyImClient Client, int Gateway) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => Client.DisposeAsync();
}
