using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using EasyIm.Contracts.Messaging;
using EasyIm.IntegrationTests.Server;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Faults;

/// <summary>One <c>easyim</c> process of a <see cref="ProcessCluster"/>: its target, ports and settings, so it can be killed and started again.</summary>
public sealed class ClusterNode(string target, int apiPort, int? socketPort, string? gatewayId, Dictionary<string, string> environment, string workingDirectory)
{
    public string Target { get; } = target;
    public int ApiPort { get; } = apiPort;
    /// <summary>The long-connection port of a gateway.</summary>
    public int? SocketPort { get; } = socketPort;
    /// <summary>A gateway's id (<c>Gateway:InstanceId</c>): its queue is <c>gateway-{id}</c>.</summary>
    public string? GatewayId { get; } = gatewayId;
    public EasyImProcess? Process { get; private set; }
    public bool Alive => Process is { HasExited: false };

    public void Start() => Process = EasyImProcess.Start(["--target", Target], workingDirectory, environment);

    public async Task KillAsync()
    {
        if (Process is not null)
            await Process.KillAsync();
    }

    /// <summary>
    /// Freezes the process (SIGSTOP) until <see cref="ResumeAsync"/>: its sockets stay open but it reads and
    /// answers nothing, so it cannot reconnect to a broker that went away meanwhile.
    /// </summary>
    public Task PauseAsync() => SignalAsync("STOP");

    public Task ResumeAsync() => SignalAsync("CONT");

    private async Task SignalAsync(string signal)
    {
        var process = Process ?? throw new InvalidOperationException($"{Target} was not started");
        using var kill = System.Diagnostics.Process.Start("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0)
            throw new InvalidOperationException($"kill -{signal} {process.Id} exited with {kill.ExitCode}");
    }

    /// <summary>Waits until <c>/health/ready</c> answers 200 (bus and database reachable).</summary>
    public Task WaitReadyAsync(TimeSpan timeout) =>
        (Process ?? throw new InvalidOperationException($"{Target} was not started")).WaitUntilReadyAsync(ApiPort, timeout, Target);

    public async ValueTask DisposeAsync()
    {
        if (Process is not null)
            await Process.DisposeAsync();
    }
}

/// <summary>
/// A distributed EasyIm of real <c>easyim</c> processes on the fault infrastructure: auth and friends in one
/// process, one or more messaging processes, one or more gateways, each on its own loopback ports, on a
/// RabbitMQ virtual host and a PostgreSQL database of this cluster only.
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    private static readonly TimeSpan ReadyWithin = TimeSpan.FromSeconds(120);
    private readonly FaultInfrastructure _infrastructure;
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private readonly string _directory;
    private readonly HttpClient _management;
    private string? _database;
    private bool _vhostCreated;

    private ProcessCluster(FaultInfrastructure infrastructure)
    {
        _infrastructure = infrastructure;
        _directory = Path.Combine(Path.GetTempPath(), "easyim-faults-" + _run);
        Directory.CreateDirectory(_directory);
        var management = infrastructure.RabbitMqManagement;
        _management = new HttpClient { BaseAddress = new Uri(management.GetLeftPart(UriPartial.Authority)), Timeout = TimeSpan.FromSeconds(10) };
        var credentials = Uri.UnescapeDataString(management.UserInfo);
        _management.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
    }

    public string VirtualHost => "faults-" + _run;
    public FaultInfrastructure Infrastructure => _infrastructure;
    public List<ClusterNode> Services { get; } = [];
    public List<ClusterNode> Messaging { get; } = [];
    public List<ClusterNode> Gateways { get; } = [];
    private IEnumerable<ClusterNode> All => Services.Concat(Messaging).Concat(Gateways);

    /// <summary>The long-connection ports of the gateways still running.</summary>
    public IReadOnlyList<int> LiveGatewayPorts() => Gateways.Where(g => g.Alive).Select(g => g.SocketPort!.Value).ToList();

    /// <param name="services">How many processes run auth and friends together.</param>
    /// <param name="gatewayPartitions">
    /// When given, gateway i gets an id whose chat partition (<see cref="ChatPartitions.Of"/>) is
    /// <c>gatewayPartitions[i]</c>, so that a test knows which partitions carry its traffic.
    /// </param>
    public static async Task<ProcessCluster> StartAsync(FaultInfrastructure infrastructure, int gateways, int messaging, int services = 1,
        IReadOnlyList<int>? gatewayPartitions = null)
    {
        var cluster = new ProcessCluster(infrastructure);
        try
        {
            await cluster.StartCoreAsync(gateways, messaging, services, gatewayPartitions);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private string _postgres = "";
    private string _rabbit = "";

    private async Task StartCoreAsync(int gateways, int messaging, int services, IReadOnlyList<int>? gatewayPartitions)
    {
        (await _management.PutAsJsonAsync($"/api/vhosts/{VirtualHost}", new { })).EnsureSuccessStatusCode();
        _vhostCreated = true;
        (await _management.PutAsJsonAsync($"/api/permissions/{VirtualHost}/guest", new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
        _database = "easyim_fault_" + _run;
        _postgres = await TestInfrastructure.CreateDatabaseAsync(_infrastructure.PostgresAdmin, _database);
        _rabbit = new UriBuilder(_infrastructure.RabbitMq) { Path = "/" + VirtualHost }.Uri.ToString();

        for (var i = 0; i < services; i++)
            Services.Add(Node("auth,friends", null));
        for (var i = 0; i < messaging; i++)
            Messaging.Add(Node("messaging", null));
        for (var i = 1; i <= gateways; i++)
            Gateways.Add(Node("gateway", gatewayPartitions is null ? $"{_run}-g{i}" : GatewayIdOn(gatewayPartitions[i - 1], i)));

        // The services first, so that a gateway's first request finds them consuming.
        foreach (var node in Services.Concat(Messaging))
            node.Start();
        await Task.WhenAll(Services.Concat(Messaging).Select(n => n.WaitReadyAsync(ReadyWithin)));
        foreach (var node in Gateways)
            node.Start();
        await Task.WhenAll(Gateways.Select(n => n.WaitReadyAsync(ReadyWithin)));
    }

    /// <summary>Starts one more messaging process on this cluster and waits until it is ready.</summary>
    public async Task<ClusterNode> AddMessagingAsync()
    {
        var node = Node("messaging", null);
        Messaging.Add(node);
        node.Start();
        await node.WaitReadyAsync(ReadyWithin);
        return node;
    }

    private string GatewayIdOn(int partition, int index)
    {
        for (var suffix = 0; suffix < 10_000; suffix++)
        {
            var id = $"{_run}-g{index}-{suffix}";
            if (ChatPartitions.Of(id) == partition)
                return id;
        }
        throw new InvalidOperationException($"no gateway id on partition {partition} within 10,000 tries");
    }

    private ClusterNode Node(string target, string? gatewayId)
    {
        var apiPort = TestInfrastructure.FreePort();
        int? socketPort = gatewayId is null ? null : TestInfrastructure.FreePort();
        var environment = new Dictionary<string, string>
        {
            ["Bus__Transport"] = "RabbitMq",
            ["ConnectionStrings__rabbitmq"] = _rabbit,
            ["Database__Provider"] = "Postgres",
            ["ConnectionStrings__postgres"] = _postgres,
            ["EasyIm__ListenAddress"] = "127.0.0.1",
            ["Gateway__ApiPort"] = apiPort.ToString(),
            ["Logging__LogLevel__EasyIm"] = "Information",
        };
        // Every client of the cluster is 127.0.0.1 (EasyImShape.LoopbackBudgets says why).
        foreach (var (key, value) in EasyImShape.LoopbackBudgets)
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        if (gatewayId is not null)
        {
            environment["Gateway__Port"] = socketPort!.Value.ToString();
            environment["Gateway__InstanceId"] = gatewayId;
        }
        var directory = Path.Combine(_directory, gatewayId ?? target.Replace(',', '-') + "-" + apiPort);
        Directory.CreateDirectory(directory);
        return new ClusterNode(target, apiPort, socketPort, gatewayId, environment, directory);
    }

    /// <summary>Starts a killed node again with the same settings and waits until it is ready.</summary>
    public static async Task RestartAsync(ClusterNode node)
    {
        await node.KillAsync();
        await node.DisposeAsync();
        node.Start();
        await node.WaitReadyAsync(ReadyWithin);
    }

    /// <summary>
    /// Waits until every messaging process routes by presence (it logs it once it has heard every live
    /// gateway for a full heartbeat period); before that, pushes go to every gateway.
    /// </summary>
    public Task WaitForWarmPresenceAsync() =>
        Task.WhenAll(Messaging.Where(m => m.Alive).Select(m => m.Process!.WaitForOutputAsync("Presence is warm", TimeSpan.FromSeconds(60))));

    /// <summary>The queue's counters from the management API, or null when the queue does not exist.</summary>
    public async Task<QueueCounts?> QueueAsync(string queue)
    {
        using var response = await _management.GetAsync($"/api/queues/{VirtualHost}/{Uri.EscapeDataString(queue)}");
        if (response.StatusCode == HttpStatusCode.NotFound)
            return null;
        response.EnsureSuccessStatusCode();
        var json = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        long Stat(string name) => json.TryGetProperty("message_stats", out var stats) && stats.TryGetProperty(name, out var value) ? value.GetInt64() : 0;
        return new QueueCounts(Stat("publish"), Stat("deliver_get"), json.TryGetProperty("consumers", out var c) ? c.GetInt32() : 0);
    }

    /// <summary>
    /// A single-active-consumer queue's consumers from the management API: the active one's tag (null when none
    /// is active, or the queue does not exist) and how many consumers it has, active or waiting.
    /// </summary>
    public async Task<(string? ActiveTag, int Consumers)> ActiveConsumerAsync(string queue)
    {
        using var response = await _management.GetAsync($"/api/queues/{VirtualHost}/{Uri.EscapeDataString(queue)}");
        if (response.StatusCode == HttpStatusCode.NotFound)
            return (null, 0);
        response.EnsureSuccessStatusCode();
        var json = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var consumers = json.TryGetProperty("consumer_details", out var details) && details.ValueKind == System.Text.Json.JsonValueKind.Array
            ? details.EnumerateArray().ToList() : [];
        var active = consumers.FirstOrDefault(c => c.TryGetProperty("active", out var a) && a.ValueKind == System.Text.Json.JsonValueKind.True);
        var tag = active.ValueKind == System.Text.Json.JsonValueKind.Object ? active.GetProperty("consumer_tag").GetString() : null;
        return (tag, consumers.Count);
    }

    /// <summary>The virtual host's queues as the management API lists them, for a failing test's message.</summary>
    public async Task<string> QueuesAsync() =>
        await _management.GetStringAsync($"/api/queues/{VirtualHost}?columns=name,durable,auto_delete,exclusive,arguments,consumers,messages");

    // ---- users, over a live gateway's HTTP API ----

    private HttpClient Api()
    {
        var gateway = Gateways.First(g => g.Alive);
        return new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{gateway.ApiPort}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public async Task<TestUser> NewUserAsync()
    {
        using var http = Api();
        var account = "f" + Guid.NewGuid().ToString("N")[..12];
        const string password = "pass-word-1";
        var reply = await ApiReply.ReadAsync(await http.PostAsJsonAsync("/api/user/register", new { account, password, nickname = account }));
        Assert.Equal(200, reply.Status);
        return new TestUser(long.Parse(reply.Data.GetProperty("id").GetString()!), account, password,
            reply.Data.GetProperty("access_token").GetString()!, reply.Data.GetProperty("refresh_token").GetString()!);
    }

    /// <summary>Posts JSON as <paramref name="user"/> to the API of gateway <paramref name="gateway"/>.</summary>
    public async Task<ApiReply> PostAsync(int gateway, string path, object body, TestUser user)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Gateways[gateway].ApiPort}"), Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new("Bearer", user.AccessToken);
        return await ApiReply.ReadAsync(await http.SendAsync(request));
    }

    public async Task<ApiReply> GetAsync(int gateway, string path, TestUser user)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Gateways[gateway].ApiPort}"), Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new("Bearer", user.AccessToken);
        return await ApiReply.ReadAsync(await http.SendAsync(request));
    }

    public async Task MakeFriendsAsync(TestUser a, TestUser b)
    {
        using var http = Api();
        using var invite = new HttpRequestMessage(HttpMethod.Post, "/api/user/friend/add") { Content = JsonContent.Create(new { to_user_id = b.Id.ToString() }) };
        invite.Headers.Authorization = new("Bearer", a.AccessToken);
        var invited = await ApiReply.ReadAsync(await http.SendAsync(invite));
        Assert.Equal(200, invited.Status);
        using var accept = new HttpRequestMessage(HttpMethod.Post, "/api/user/friend/accept") { Content = JsonContent.Create(new { id = invited.Data.GetProperty("id").GetString() }) };
        accept.Headers.Authorization = new("Bearer", b.AccessToken);
        Assert.Equal(200, (await ApiReply.ReadAsync(await http.SendAsync(accept))).Status);
    }

    /// <summary>Everything the processes wrote, for a failing test's message.</summary>
    public string Logs() => string.Join("\n", All.Select(n => $"---- {n.Target} {n.GatewayId} (api {n.ApiPort})\n{Tail(n.Process?.Stdout)}\n{Tail(n.Process?.Stderr)}"));

    private static string Tail(string? text) => text is null ? "" : text.Length > 6000 ? text[^6000..] : text;

    public async ValueTask DisposeAsync()
    {
        foreach (var node in All.Reverse())
            await node.DisposeAsync();
        if (_vhostCreated)
        {
            try
            {
                await _management.DeleteAsync($"/api/vhosts/{VirtualHost}");
            }
            catch (HttpRequestException)
            {
                // A test that stopped the broker may leave it down; the vhost goes with the next clean-up.
            }
        }
        if (_database is not null)
            await TestInfrastructure.DropDatabaseAsync(_infrastructure.PostgresAdmin, _database);
        _management.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

public sealed record QueueCounts(long Published, long Delivered, int Consumers);
