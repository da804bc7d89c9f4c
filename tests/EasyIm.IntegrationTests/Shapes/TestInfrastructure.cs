using System.Net;
using System.Net.Sockets;
using Npgsql;
using Testcontainers.PostgreSql;
using Testcontainers.RabbitMq;

namespace EasyIm.IntegrationTests.Shapes;

/// <summary>A RabbitMQ broker and a PostgreSQL server for the distributed shape.</summary>
public sealed record Infrastructure(string RabbitMq, string PostgresAdmin);

/// <summary>
/// Finds RabbitMQ and PostgreSQL once per test run: from Testcontainers where a Docker engine
/// answers, else from <c>EASYIM_TEST_RABBITMQ</c> (an amqp:// address) and
/// <c>EASYIM_TEST_POSTGRES</c> (a connection string whose role may create databases).
/// With neither, the tests that need them are skipped with the reason; with
/// <c>EASYIM_REQUIRE_INFRA=1</c> (CI) they fail instead.
/// </summary>
public static class TestInfrastructure
{
    public const string RabbitMqVariable = "EASYIM_TEST_RABBITMQ";
    public const string PostgresVariable = "EASYIM_TEST_POSTGRES";
    public const string RequireVariable = "EASYIM_REQUIRE_INFRA";

    private static readonly Lazy<Task<(Infrastructure? Found, string? Missing)>> Shared = new(FindAsync);

    public static bool Required => Environment.GetEnvironmentVariable(RequireVariable) is "1" or "true";

    public static Task<(Infrastructure? Found, string? Missing)> GetAsync() => Shared.Value;

    private static async Task<(Infrastructure?, string?)> FindAsync()
    {
        var rabbit = Environment.GetEnvironmentVariable(RabbitMqVariable);
        var postgres = Environment.GetEnvironmentVariable(PostgresVariable);
        if (!string.IsNullOrWhiteSpace(rabbit) && !string.IsNullOrWhiteSpace(postgres))
            return (new Infrastructure(rabbit, postgres), null);

        try
        {
            var rabbitContainer = new RabbitMqBuilder("rabbitmq:3.13-management").Build();
            var postgresContainer = new PostgreSqlBuilder("postgres:16").Build();
            await Task.WhenAll(rabbitContainer.StartAsync(), postgresContainer.StartAsync());
            // Containers live as long as the test run; Testcontainers' reaper removes them after.
            return (new Infrastructure(rabbitContainer.GetConnectionString(), postgresContainer.GetConnectionString()), null);
        }
        catch (Exception ex)
        {
            return (null,
                $"needs RabbitMQ and PostgreSQL: no Docker engine for Testcontainers ({ex.GetType().Name}) and " +
                $"{RabbitMqVariable} / {PostgresVariable} are not both set (see .ci/run)");
        }
    }

    /// <summary>Makes an empty database for one shape and returns its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync(string adminConnectionString, string name)
    {
        await using var admin = new NpgsqlConnection(adminConnectionString);
        await admin.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
        await create.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = name }.ConnectionString;
    }

    public static async Task DropDatabaseAsync(string adminConnectionString, string name)
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(adminConnectionString);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
