using EasyIm.IntegrationTests.Shapes;
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
