namespace EasyIm.IntegrationTests.Shapes;

/// <summary>
/// Each service its own host (its own container, bus connection and HTTP port) on a real
/// RabbitMQ and a real PostgreSQL: the gateway reaches the services only through the broker.
/// Each process uses its service's own broker account (<c>deploy/rabbitmq-accounts.sh</c>, as compose does), so a
/// scenario that needs what a service may not do on the bus fails with the broker's refusal.
/// One distributed shape runs at a time (one collection), so no two shapes share the broker's queues.
/// </summary>
public class DistributedShape : EasyImShape
{
    private readonly string _database = "easyim_test_" + Guid.NewGuid().ToString("N")[..12];
    private Infrastructure? _infrastructure;
    private string? _connectionString;
    private BrokerAccounts? _accounts;

    public override string Name => "distributed";

    /// <summary>A second gateway beside the first, as <c>--scale gateway=2</c> would run: its long-connection port.</summary>
    public int SecondGatewayPort { get; } = TestInfrastructure.FreePort();

    /// <summary>The second gateway's API port.</summary>
    public int SecondGatewayApiPort { get; } = TestInfrastructure.FreePort();

    /// <summary>
    /// The shape's RabbitMQ (amqp://) with <paramref name="service"/>'s own account: more gateways on it (service
    /// <c>gateway</c>) join this shape's services.
    /// </summary>
    public string RabbitMqFor(string service) => _accounts?.For(service)
        ?? _infrastructure?.RabbitMq ?? throw new InvalidOperationException($"the {Name} shape is not running");

    protected override async Task PrepareAsync()
    {
        var (found, missing) = await TestInfrastructure.GetAsync();
        if (found is null)
        {
            Unavailable = missing;
            return;
        }
        _connectionString = await TestInfrastructure.CreateDatabaseAsync(found.PostgresAdmin, _database);
        _infrastructure = found;
        // A broker shared with other test runs (CI's, or several at once on a developer's machine): a vhost of the
        // shape's own, or their services would answer each other's requests; in it, one account per service. (A
        // Testcontainers broker has no management API here: its services share the container's account.)
        if (Environment.GetEnvironmentVariable(TestInfrastructure.RabbitMqVariable) is { Length: > 0 })
            _accounts = await TestInfrastructure.CreateBrokerAccountsAsync(found.RabbitMq, _database);
    }

    protected override IEnumerable<(string, Dictionary<string, string?>)> Hosts()
    {
        Dictionary<string, string?> Settings(string target, int apiPort)
        {
            var settings = Common();
            settings["Bus:Transport"] = "RabbitMq";
            settings["ConnectionStrings:rabbitmq"] = RabbitMqFor(target);
            settings["Database:Provider"] = "Postgres";
            settings["ConnectionStrings:postgres"] = _connectionString;
            settings["Gateway:ApiPort"] = apiPort.ToString();
            return settings;
        }

        // Services first, so that the gateway's first request finds them consuming.
        yield return ("auth", Settings("auth", TestInfrastructure.FreePort()));
        yield return ("friends", Settings("friends", TestInfrastructure.FreePort()));
        yield return ("messaging", Settings("messaging", TestInfrastructure.FreePort()));
        var second = Settings("gateway", SecondGatewayApiPort);
        second["Gateway:Port"] = SecondGatewayPort.ToString();
        yield return ("gateway", second);
        // The first gateway last: the scenarios' API calls and GatewayServices are its.
        var gateway = Settings("gateway", ApiPort);
        gateway["Gateway:Port"] = SocketPort.ToString();
        yield return ("gateway", gateway);
    }

    protected override async Task CleanUpAsync()
    {
        if (_infrastructure is not null)
            await TestInfrastructure.DropDatabaseAsync(_infrastructure.PostgresAdmin, _database);
        if (_accounts is not null)
            await _accounts.DeleteAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class DistributedCollection : ICollectionFixture<DistributedShape>
{
    public const string Name = "distributed";
}
