using EasyIm.Auth.Data;
using EasyIm.Friends.Data;
using EasyIm.Hosting.Database;
using EasyIm.IntegrationTests.Shapes;
using EasyIm.Messaging.Data;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EasyIm.IntegrationTests.Server;

/// <summary>
/// A cluster started by hand on a PostgreSQL server whose database was never made: the services create
/// it, even when they all start at once; a role that may not gets a clear error, not a stack trace.
/// </summary>
public sealed class PostgresDatabaseTests : IAsyncLifetime
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(90);
    /// <summary>A role without CREATEDB, made by .ci/run.</summary>
    public const string LimitedRole = "easyim_nocreatedb";
    private readonly string _database = "easyim_missing_" + Guid.NewGuid().ToString("N")[..12];
    private Infrastructure? _infrastructure;

    public async Task InitializeAsync()
    {
        var (found, missing) = await TestInfrastructure.GetAsync();
        if (found is null && TestInfrastructure.Required)
            throw new InvalidOperationException(missing);
        _infrastructure = found;
    }

    public async Task DisposeAsync()
    {
        if (_infrastructure is not null)
            await TestInfrastructure.DropDatabaseAsync(_infrastructure.PostgresAdmin, _database);
    }

    private Dictionary<string, string> Settings(string? username = null)
    {
        var connection = new NpgsqlConnectionStringBuilder(_infrastructure!.PostgresAdmin) { Database = _database };
        if (username is not null)
            connection.Username = username;
        return new()
        {
            ["Database__Provider"] = "Postgres",
            ["ConnectionStrings__postgres"] = connection.ConnectionString,
        };
    }

    [SkippableFact]
    public async Task Three_services_migrating_at_once_create_the_missing_database_once_and_all_succeed()
    {
        Skip.If(_infrastructure is null, "needs PostgreSQL");
        var processes = new[] { "auth", "friends", "messaging" }
            .Select(target => EasyImProcess.Start(["migrate", "--target", target], environment: Settings()))
            .ToList();
        try
        {
            var codes = await Task.WhenAll(processes.Select(p => p.WaitForExitAsync(ExitTimeout)));

            Assert.True(codes.All(c => c == 0), string.Join("\n", processes.Select(p => p.Stdout + p.Stderr)));
            foreach (var (process, target) in processes.Zip(new[] { "auth", "friends", "messaging" }))
                Assert.Contains($"{target}: migrated", process.Stdout);
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_infrastructure!.PostgresAdmin) { Database = _database }.ConnectionString);
            await connection.OpenAsync();
            await using var tables = new NpgsqlCommand("SELECT count(DISTINCT table_schema) FROM information_schema.tables WHERE table_name = '__EFMigrationsHistory'", connection);
            Assert.Equal(3L, await tables.ExecuteScalarAsync());
        }
        finally
        {
            foreach (var process in processes)
                await process.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task Replicas_of_every_service_migrating_at_once_on_a_fresh_database_all_succeed()
    {
        // Replicas of a service start together (a scaled deployment, a restart of all). Each replica here
        // is a host of its own, as a process would be; several rounds, each on a database never migrated.
        // EF Core's own lock let two replicas apply one migration at once (42P07 "relation already
        // exists", 42701), about one round in three with three processes.
        Skip.If(_infrastructure is null, "needs PostgreSQL");
        const int replicas = 4;
        for (var round = 0; round < 3; round++)
        {
            var database = round == 0 ? _database : _database + "_" + round;
            var hosts = Enumerable.Range(0, replicas).Select(_ => Replica(database)).ToList();
            try
            {
                await Task.WhenAll(hosts.SelectMany(host => host.Services.GetServices<IServiceDatabase>()
                    .Select(service => Task.Run(() => service.MigrateAsync(host.Services, CancellationToken.None)))));

                await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_infrastructure!.PostgresAdmin) { Database = database }.ConnectionString);
                await connection.OpenAsync();
                foreach (var schema in new[] { "auth", "friends", "messaging" })
                    Assert.True(await Scalar<long>(connection, $"SELECT count(*) FROM {schema}.\"__EFMigrationsHistory\"") > 0, schema);
            }
            finally
            {
                foreach (var host in hosts)
                    host.Dispose();
                if (round > 0)
                    await TestInfrastructure.DropDatabaseAsync(_infrastructure!.PostgresAdmin, database);
            }
        }
    }

    /// <summary>One replica of all three services with a database: its services, not started.</summary>
    private IHost Replica(string database)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["ConnectionStrings:postgres"] = new NpgsqlConnectionStringBuilder(_infrastructure!.PostgresAdmin) { Database = database }.ConnectionString,
        });
        builder.AddServiceDatabase<AuthDbContext, SqliteAuthDbContext, PostgresAuthDbContext>(AuthDbContext.Service);
        builder.AddServiceDatabase<FriendsDbContext, SqliteFriendsDbContext, PostgresFriendsDbContext>(FriendsDbContext.Service);
        builder.AddServiceDatabase<MessagingDbContext, SqliteMessagingDbContext, PostgresMessagingDbContext>(MessagingDbContext.Service);
        return builder.Build();
    }

    private static async Task Sql(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> Scalar<T>(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    [SkippableFact]
    public async Task A_role_that_may_not_create_the_missing_database_gets_a_clear_error_and_exit_code_2()
    {
        Skip.If(_infrastructure is null, "needs PostgreSQL");
        await using var process = EasyImProcess.Start(["migrate", "--target", "auth"], environment: Settings(LimitedRole));

        var code = await process.WaitForExitAsync(ExitTimeout);

        Assert.True(code == 2, $"exit code {code}: {process.Stderr}");
        Assert.Contains($"'{_database}' does not exist", process.Stderr);
        Assert.Contains("CREATEDB", process.Stderr);
        Assert.DoesNotContain("   at ", process.Stderr);
    }
}
