using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EasyIm.IntegrationTests.Server;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Telemetry;

/// <summary>
/// EasyIm as real <c>easyim</c> processes: one (<c>--target all</c>, in-memory bus, SQLite) or one per
/// service on RabbitMQ and PostgreSQL, in a vhost and a database of their own (deleted at the end),
/// so that no other test's consumers meet theirs; each service with its own broker account there
/// (<c>deploy/rabbitmq-accounts.sh</c>).
/// </summary>
public sealed class ServerProcesses : IAsyncDisposable
{
    private readonly List<EasyImProcess> _processes = [];
    private readonly DirectoryInfo _workDir = Directory.CreateTempSubdirectory("easyim-proc-");
    private readonly string _name = "easyim_proc_" + Guid.NewGuid().ToString("N")[..12];
    private Infrastructure? _infrastructure;
    private BrokerAccounts? _accounts;
    private bool _database;

    public int ApiPort { get; } = TestInfrastructure.FreePort();
    public int SocketPort { get; } = TestInfrastructure.FreePort();
    public HttpClient Http { get; }
    public IReadOnlyList<EasyImProcess> Processes => _processes;
    /// <summary>Distributed: the RabbitMQ vhost and the PostgreSQL database of these processes alone (the same name).</summary>
    public string Name => _name;
    /// <summary>Distributed: the connection string of the processes' database.</summary>
    public string? Postgres { get; private set; }

    private ServerProcesses() => Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ApiPort}"), Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>One process running every service.</summary>
    public static async Task<ServerProcesses> StandaloneAsync(IDictionary<string, string>? environment = null)
    {
        var processes = new ServerProcesses();
        try
        {
            processes.Start("all", processes.ApiPort, environment, new Dictionary<string, string>
            {
                ["EasyIm__ListenAddress"] = "127.0.0.1",
                ["Gateway__Port"] = processes.SocketPort.ToString(CultureInfo.InvariantCulture),
            });
            await processes.WaitUntilReadyAsync(processes.ApiPort);
            return processes;
        }
        catch
        {
            await processes.DisposeAsync();
            throw;
        }
    }

    /// <summary>auth, friends, messaging and a gateway, each its own process, on RabbitMQ and PostgreSQL.</summary>
    public static async Task<ServerProcesses> DistributedAsync(Infrastructure infrastructure, IDictionary<string, string>? environment = null)
    {
        var processes = new ServerProcesses { _infrastructure = infrastructure };
        try
        {
            var accounts = processes._accounts = await TestInfrastructure.CreateBrokerAccountsAsync(infrastructure.RabbitMq, processes._name);
            var postgres = await TestInfrastructure.CreateDatabaseAsync(infrastructure.PostgresAdmin, processes._name);
            processes._database = true;
            processes.Postgres = postgres;
            var shared = new Dictionary<string, string>
            {
                ["EasyIm__ListenAddress"] = "127.0.0.1",
                ["Bus__Transport"] = "RabbitMq",
                ["Database__Provider"] = "Postgres",
                ["ConnectionStrings__postgres"] = postgres,
            };
            foreach (var target in new[] { "auth", "friends", "messaging" })
            {
                var port = TestInfrastructure.FreePort();
                processes.Start(target, port, environment, new Dictionary<string, string>(shared) { ["ConnectionStrings__rabbitmq"] = accounts.For(target) });
                await processes.WaitUntilReadyAsync(port);
            }
            processes.Start("gateway", processes.ApiPort, environment,
                new Dictionary<string, string>(shared)
                {
                    ["ConnectionStrings__rabbitmq"] = accounts.For("gateway"),
                    ["Gateway__Port"] = processes.SocketPort.ToString(CultureInfo.InvariantCulture),
                });
            await processes.WaitUntilReadyAsync(processes.ApiPort);
            return processes;
        }
        catch
        {
            await processes.DisposeAsync();
            throw;
        }
    }

    private void Start(string target, int apiPort, IDictionary<string, string>? environment, IDictionary<string, string> settings)
    {
        var all = new Dictionary<string, string>(settings);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            all[key] = value.Replace("{target}", target, StringComparison.Ordinal);
        if (all.TryGetValue("EasyIm__ManagementPort", out var management))
            _managementPort = int.Parse(management, CultureInfo.InvariantCulture);
        _processes.Add(EasyImProcess.Start(
            ["--target", target, "--apiport", apiPort.ToString(CultureInfo.InvariantCulture), "--data", Path.Combine(_workDir.FullName, "data")],
            _workDir.FullName, all));
    }

    /// <summary>Health is on the management port when the processes have one (<c>EasyIm__ManagementPort</c>).</summary>
    private Task WaitUntilReadyAsync(int apiPort) => _processes[^1].WaitUntilReadyAsync(_managementPort ?? apiPort);

    private int? _managementPort;

    /// <summary>Registers a user with a fresh account.</summary>
    public async Task<TestUser> NewUserAsync()
    {
        var account = "p" + Guid.NewGuid().ToString("N")[..12];
        const string password = "pass-word-1";
        var response = await Http.PostAsJsonAsync("/api/user/register", new { account, password });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        var data = JsonDocument.Parse(text).RootElement.GetProperty("data");
        return new TestUser(long.Parse(data.GetProperty("id").GetString()!, CultureInfo.InvariantCulture), account, password,
            data.GetProperty("access_token").GetString()!, data.GetProperty("refresh_token").GetString()!);
    }

    public async Task MakeFriendsAsync(TestUser a, TestUser b)
    {
        var invite = await SendAsync(HttpMethod.Post, "/api/user/friend/add", new { to_user_id = ShapeClients.Id(b.Id) }, a);
        await SendAsync(HttpMethod.Post, "/api/user/friend/accept", new { id = invite.GetProperty("id").GetString() }, b);
    }

    private async Task<JsonElement> SendAsync(HttpMethod method, string path, object body, TestUser user)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new("Bearer", user.AccessToken);
        var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("data").Clone();
    }

    /// <summary>What the processes wrote to stderr so far, for failure messages.</summary>
    public string Errors => string.Join("\n", _processes.Select(p => p.Stderr).Where(e => e.Trim().Length > 0));

    public async ValueTask DisposeAsync()
    {
        foreach (var process in Enumerable.Reverse(_processes))
            await process.DisposeAsync();
        Http.Dispose();
        try
        {
            if (_database && _infrastructure is not null)
                await TestInfrastructure.DropDatabaseAsync(_infrastructure.PostgresAdmin, _name);
        }
        finally
        {
            // Broker users are server-wide: never left behind, whatever happened to the database.
            if (_accounts is not null)
                await _accounts.DeleteAsync();
        }
        try
        {
            _workDir.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
