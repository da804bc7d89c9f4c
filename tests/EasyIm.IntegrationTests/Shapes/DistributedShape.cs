namespace EasyIm.IntegrationTests.Shapes;

/// <summary>
/// Each service its own host (its own container, bus connection and HTTP port) on a real
/// RabbitMQ and a real PostgreSQL: the gateway reaches the services only through the broker.
/// One distributed shape runs at a time (one collection), so no two shapes share the broker's queues.
/// </summary>
public class DistributedShape : EasyImShape
{
    private readonly string _database = "easyim_test_" + Guid.NewGuid().ToString("N")[..12];
    private Infrastructure? _infrastructure;
    private string? _connectionString;
    private string? _rabbitMq;
    private HttpClient? _rabbitApi;
    private string? _virtualHost;

    /// <summary>
    /// A RabbitMQ virtual host of the shape's own: a shape whose services differ from the shared one's (other
    /// settings, another database) must not compete with them for the same queues.
    /// </summary>
    protected virtual bool OwnVirtualHost => false;

    public override string Name => "distributed";

    /// <summary>A second gateway beside the first, as <c>--scale gateway=2</c> would run: its long-connection port.</summary>
    public int SecondGatewayPort { get; } = TestInfrastructure.FreePort();

    /// <summary>The shape's RabbitMQ (amqp://): more gateways on it join this shape's services.</summary>
    public string RabbitMq => _rabbitMq ?? throw new InvalidOperationException($"the {Name} shape is not running");

    protected override async Task PrepareAsync()
    {
        var (found, missing) = await TestInfrastructure.GetAsync();
        if (found is null)
        {
            Unavailable = missing;
            return;
        }
        _infrastructure = found;
        _connectionString = await TestInfrastructure.CreateDatabaseAsync(found.PostgresAdmin, _database);
        _rabbitMq = OwnVirtualHost ? await CreateVirtualHostAsync(found.RabbitMq) : found.RabbitMq;
    }

    /// <summary>A vhost named like the shape's database, made through the management API (http://host:15672, or EASYIM_TEST_RABBITMQ_API).</summary>
    private async Task<string> CreateVirtualHostAsync(string rabbitMq)
    {
        var amqp = new Uri(rabbitMq);
        var credentials = Uri.UnescapeDataString(amqp.UserInfo.Length > 0 ? amqp.UserInfo : "guest:guest");
        var api = Environment.GetEnvironmentVariable("EASYIM_TEST_RABBITMQ_API") is { Length: > 0 } configured
            ? new Uri(configured)
            : new UriBuilder("http", amqp.Host, 15672).Uri;
        _rabbitApi = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(30) };
        _rabbitApi.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(credentials)));
        (await _rabbitApi.PutAsync($"api/vhosts/{_database}", System.Net.Http.Json.JsonContent.Create(new { }))).EnsureSuccessStatusCode();
        _virtualHost = _database;
        (await _rabbitApi.PutAsync($"api/permissions/{_database}/{Uri.EscapeDataString(credentials.Split(':')[0])}",
            System.Net.Http.Json.JsonContent.Create(new { configure = ".*", write = ".*", read = ".*" }))).EnsureSuccessStatusCode();
        return new UriBuilder(amqp) { Path = "/" + _database }.Uri.ToString();
    }

    protected override IEnumerable<(string, Dictionary<string, string?>)> Hosts()
    {
        Dictionary<string, string?> Settings(int apiPort)
        {
            var settings = Common();
            settings["Bus:Transport"] = "RabbitMq";
            settings["ConnectionStrings:rabbitmq"] = _rabbitMq;
            settings["Database:Provider"] = "Postgres";
            settings["ConnectionStrings:postgres"] = _connectionString;
            settings["Gateway:ApiPort"] = apiPort.ToString();
            return settings;
        }

        // Services first, so that the gateway's first request finds them consuming.
        yield return ("auth", Settings(TestInfrastructure.FreePort()));
        yield return ("friends", Settings(TestInfrastructure.FreePort()));
        yield return ("messaging", Settings(TestInfrastructure.FreePort()));
        var second = Settings(TestInfrastructure.FreePort());
        second["Gateway:Port"] = SecondGatewayPort.ToString();
        yield return ("gateway", second);
        // The first gateway last: the scenarios' API calls and GatewayServices are its.
        var gateway = Settings(ApiPort);
        gateway["Gateway:Port"] = SocketPort.ToString();
        yield return ("gateway", gateway);
    }

    protected override async Task CleanUpAsync()
    {
        if (_infrastructure is not null)
            await TestInfrastructure.DropDatabaseAsync(_infrastructure.PostgresAdmin, _database);
        if (_virtualHost is not null)
            await _rabbitApi!.DeleteAsync($"api/vhosts/{_virtualHost}");
        _rabbitApi?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class DistributedCollection : ICollectionFixture<DistributedShape>
{
    public const string Name = "distributed";
}
