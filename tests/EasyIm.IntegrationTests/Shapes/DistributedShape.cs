using EasyIm.Hosting.Database;
using EasyIm.Server;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EasyIm.IntegrationTests.Shapes;

/// <summary>
/// Each service its own host (its own container, bus connection and HTTP port) on a real
/// RabbitMQ and a real PostgreSQL: the gateway reaches the services only through the broker.
/// Each process uses its service's own broker account (<c>deploy/rabbitmq-accounts.sh</c>, as compose does), so a
/// scenario that needs what a service may not do on the bus fails with the broker's refusal. With a superuser of the
/// PostgreSQL server (<see cref="TestInfrastructure.PostgresSuperuserVariable"/>) each also runs as its own database
/// role (<c>deploy/postgres-roles.sql</c>, as compose does): the migrations are applied first as <c>easyim_migrate</c>,
/// and the services only check them.
/// One distributed shape runs at a time (one collection), so no two shapes share the broker's queues.
/// </summary>
public class DistributedShape : EasyImShape
{
    private readonly string _database = "easyim_test_" + Guid.NewGuid().ToString("N")[..12];
    private Infrastructure? _infrastructure;
    private string? _connectionString;
    private BrokerAccounts? _accounts;
    private bool _roles;
    private string? _superuser;

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
        if (Environment.GetEnvironmentVariable(TestInfrastructure.PostgresSuperuserVariable) is { Length: > 0 } superuser)
        {
            _superuser = superuser;
            await TestInfrastructure.CreateDatabaseRolesAsync(superuser, _database);
            await MigrateAsync(As("migrate"));
            _roles = true;
        }
        _infrastructure = found;
        // A broker shared with other test runs (CI's, or several at once on a developer's machine): a vhost of the
        // shape's own, or their services would answer each other's requests; in it, one account per service. (A
        // Testcontainers broker has no management API here: its services share the container's account.)
        if (Environment.GetEnvironmentVariable(TestInfrastructure.RabbitMqVariable) is { Length: > 0 })
            _accounts = await TestInfrastructure.CreateBrokerAccountsAsync(found.RabbitMq, _database);
    }

    /// <summary>The connection string of <c>easyim_{role}</c> to the shape's database.</summary>
    private string As(string role) => new NpgsqlConnectionStringBuilder(_connectionString)
    {
        Username = "easyim_" + role,
        Password = TestInfrastructure.DatabaseRolePassword(role),
    }.ConnectionString;

    /// <summary>What <c>easyim migrate</c> does, with the migration role.</summary>
    private static async Task MigrateAsync(string connectionString)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var app = EasyImHost.Build([], new Dictionary<string, string?>
        {
            [EasyImHost.TargetKey] = "all",
            ["Database:Provider"] = "Postgres",
            ["ConnectionStrings:postgres"] = connectionString,
        }, migrateOnly: true);
        foreach (var database in app.Services.GetServices<IServiceDatabase>())
            await database.MigrateAsync(app.Services, timeout.Token);
    }

    /// <summary>With the roles, as the migration role (which owns the schema): messaging's own may not change it.</summary>
    public override async Task ExecuteOnMessagingStoreAsync(string sqlite, string postgres)
    {
        if (!_roles)
        {
            await base.ExecuteOnMessagingStoreAsync(sqlite, postgres);
            return;
        }
        await using var connection = new NpgsqlConnection(As("migrate"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(postgres, connection);
        await command.ExecuteNonQueryAsync();
    }

    protected override IEnumerable<(string, Dictionary<string, string?>)> Hosts()
    {
        Dictionary<string, string?> Settings(string target, int apiPort)
        {
            var settings = Common();
            settings["Bus:Transport"] = "RabbitMq";
            settings["ConnectionStrings:rabbitmq"] = RabbitMqFor(target);
            settings["Database:Provider"] = "Postgres";
            if (!_roles)
                settings["ConnectionStrings:postgres"] = _connectionString;
            else if (target != "gateway")
            {
                settings["Database:MigrateOnStart"] = "false";
                settings[$"ConnectionStrings:{target}"] = As(target);
            }
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
        try
        {
            // The database's owner may not end the service roles' connections that are still closing; a superuser may.
            if (_infrastructure is not null)
                await TestInfrastructure.DropDatabaseAsync(_superuser ?? _infrastructure.PostgresAdmin, _database);
        }
        finally
        {
            // Broker users are server-wide: never left behind, whatever happened to the database.
            if (_accounts is not null)
                await _accounts.DeleteAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class DistributedCollection : ICollectionFixture<DistributedShape>
{
    public const string Name = "distributed";
}
