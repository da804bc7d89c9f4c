namespace EasyIm.IntegrationTests.Shapes;

/// <summary>
/// Each service its own host (its own container, bus connection and HTTP port) on a real
/// RabbitMQ and a real PostgreSQL: the gateway reaches the services only through the broker.
/// The shared distributed shape runs alone on the broker's default vhost (one collection), so no two
/// shapes share its queues; a shape derived for a test class's own settings (<see cref="EasyImShape.Overrides"/>)
/// runs beside it in a vhost of its own.
/// </summary>
public class DistributedShape : EasyImShape
{
    private readonly string _database = "easyim_test_" + Guid.NewGuid().ToString("N")[..12];
    private Infrastructure? _infrastructure;
    private string? _connectionString;
    private RabbitMqVhost? _vhost;

    /// <summary>Whether the shape needs a vhost of its own: every shape but the shared one, which may have the default vhost to itself.</summary>
    protected virtual bool OwnVhost => GetType() != typeof(DistributedShape);

    public override string Name => "distributed";

    /// <summary>A second gateway beside the first, as <c>--scale gateway=2</c> would run: its long-connection port.</summary>
    public int SecondGatewayPort { get; } = TestInfrastructure.FreePort();

    /// <summary>The shape's RabbitMQ (amqp://): more gateways on it join this shape's services.</summary>
    public string RabbitMq => _vhost?.Amqp ?? _infrastructure?.RabbitMq ?? throw new InvalidOperationException($"the {Name} shape is not running");

    protected override async Task PrepareAsync()
    {
        var (found, missing) = await TestInfrastructure.GetAsync();
        if (found is null)
        {
            Unavailable = missing;
            return;
        }
        _infrastructure = found;
        if (OwnVhost)
        {
            try
            {
                _vhost = await RabbitMqVhost.CreateAsync(found.RabbitMq, _database);
            }
            catch (HttpRequestException ex)
            {
                // Testcontainers' RabbitMQ publishes its management port elsewhere: set EASYIM_TEST_RABBITMQ_API.
                Unavailable = $"RabbitMQ's management API, needed for a vhost of this shape's own, did not answer: {ex.Message}";
                return;
            }
        }
        _connectionString = await TestInfrastructure.CreateDatabaseAsync(found.PostgresAdmin, _database);
    }

    protected override IEnumerable<(string, Dictionary<string, string?>)> Hosts()
    {
        Dictionary<string, string?> Settings(int apiPort)
        {
            var settings = Common();
            settings["Bus:Transport"] = "RabbitMq";
            settings["ConnectionStrings:rabbitmq"] = RabbitMq;
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
        if (_infrastructure is not null && _connectionString is not null)
            await TestInfrastructure.DropDatabaseAsync(_infrastructure.PostgresAdmin, _database);
        if (_vhost is not null)
            await _vhost.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class DistributedCollection : ICollectionFixture<DistributedShape>
{
    public const string Name = "distributed";
}
