using System.Globalization;
using EasyIm.IntegrationTests.Server;
using EasyIm.IntegrationTests.Shapes;
using Npgsql;

namespace EasyIm.IntegrationTests.Faults;

/// <summary>
/// One PostgreSQL role per service (issue 16: <c>deploy/postgres-init.sh</c> and <c>deploy/postgres-roles.sql</c>, run as the
/// fault cluster's superuser the way compose's postgres container runs them):
/// before <c>easyim migrate</c> the services refuse to start with only their run-time rights, naming the command; after
/// it (with the migration role) they serve a chat; no service role is a superuser or may create databases or roles, and
/// only auth's may read <c>auth.signing_keys</c>. In the fault collection: it uses that cluster's superuser.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class DatabaseRolesTests : IAsyncLifetime
{
    private static readonly string[] Services = ["auth", "friends", "messaging"];
    private readonly string _database = "easyim_roles_" + Guid.NewGuid().ToString("N")[..12];
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("easyim-roles-");
    private readonly Dictionary<string, string> _passwords = new[] { "migrate", "auth", "friends", "messaging" }
        .ToDictionary(r => r, _ => Guid.NewGuid().ToString("N"));
    private FaultInfrastructure? _infrastructure;
    private string? _missing;

    public async Task InitializeAsync()
    {
        (_infrastructure, _missing) = FaultInfrastructure.Find();
        if (_infrastructure is null)
            return;
        await TestInfrastructure.CreateDatabaseAsync(_infrastructure.PostgresAdmin, _database);
        // As compose's postgres container does on its first start: deploy/postgres-init.sh with deploy/postgres-roles.sql.
        var deploy = Path.Combine(AppContext.BaseDirectory, "deploy");
        await _infrastructure.RunControlAsync($"postgres-init {_database} {Path.Combine(deploy, "postgres-init.sh")} {Path.Combine(deploy, "postgres-roles.sql")} " +
            string.Join(" ", _passwords.Select(p => $"EASYIM_{p.Key.ToUpperInvariant()}_PASSWORD={p.Value}")));
    }

    public async Task DisposeAsync()
    {
        if (_infrastructure is not null)
            await TestInfrastructure.DropDatabaseAsync(_infrastructure.PostgresAdmin, _database);
        _work.Delete(recursive: true);
    }

    private string As(string role) => new NpgsqlConnectionStringBuilder(_infrastructure!.PostgresAdmin)
    {
        Database = _database,
        Username = "easyim_" + role,
        Password = _passwords[role],
    }.ConnectionString;

    private Dictionary<string, string> RunTimeRoles(int apiPort) => new()
    {
        ["Database__Provider"] = "Postgres",
        ["Database__MigrateOnStart"] = "false",
        ["ConnectionStrings__auth"] = As("auth"),
        ["ConnectionStrings__friends"] = As("friends"),
        ["ConnectionStrings__messaging"] = As("messaging"),
        ["EasyIm__ListenAddress"] = "127.0.0.1",
        ["EasyIm__DataDirectory"] = Path.Combine(_work.FullName, "data-" + apiPort),
        ["Auth__PasswordIterations"] = "1000",
    };

    private EasyImProcess Start(int apiPort, int socketPort) =>
        EasyImProcess.Start(["--apiport", apiPort.ToString(CultureInfo.InvariantCulture), "--port", socketPort.ToString(CultureInfo.InvariantCulture)],
            _work.FullName, RunTimeRoles(apiPort));

    [SkippableFact]
    public async Task Services_run_with_their_own_roles_after_easyim_migrate_and_none_can_read_anothers_schema()
    {
        if (TestInfrastructure.Required)
            Assert.True(_infrastructure is not null, _missing);
        Skip.If(_infrastructure is null, _missing);

        // Before the migrations: their roles may not make the schema, and they say what to do.
        var early = Start(TestInfrastructure.FreePort(), TestInfrastructure.FreePort());
        await using (early)
        {
            Assert.NotEqual(0, await early.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("run `easyim migrate`", early.Stdout + early.Stderr, StringComparison.Ordinal);
        }

        // The migrations with the migration role.
        await using (var migrate = EasyImProcess.Start(["migrate"], _work.FullName, new Dictionary<string, string>
        {
            ["Database__Provider"] = "Postgres",
            ["ConnectionStrings__postgres"] = As("migrate"),
            ["EasyIm__DataDirectory"] = Path.Combine(_work.FullName, "migrate"),
        }))
        {
            Assert.True(await migrate.WaitForExitAsync(TimeSpan.FromSeconds(120)) == 0, migrate.Stdout + migrate.Stderr);
        }

        var (apiPort, socketPort) = (TestInfrastructure.FreePort(), TestInfrastructure.FreePort());
        await using var server = Start(apiPort, socketPort);
        await server.WaitUntilReadyAsync(apiPort);
        await TwoPeople.ChatAsync(apiPort, socketPort, "with least privilege");

        await using (var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_infrastructure!.PostgresAdmin) { Database = _database }.ConnectionString))
        {
            await admin.OpenAsync();
            await using var roles = new NpgsqlCommand(
                "SELECT rolname FROM pg_roles WHERE rolname = ANY(@names) AND (rolsuper OR rolcreatedb OR rolcreaterole OR rolbypassrls)", admin);
            roles.Parameters.AddWithValue("names", new[] { "easyim_migrate", "easyim_auth", "easyim_friends", "easyim_messaging" });
            Assert.Null(await roles.ExecuteScalarAsync());
        }
        foreach (var role in new[] { "friends", "messaging" })
        {
            await using var connection = new NpgsqlConnection(As(role));
            await connection.OpenAsync();
            await using var read = new NpgsqlCommand("SELECT count(*) FROM auth.signing_keys", connection);
            var refused = await Assert.ThrowsAsync<PostgresException>(() => read.ExecuteScalarAsync());
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
            await using var ddl = new NpgsqlCommand($"CREATE TABLE {role}.sneaky (id int)", connection);
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, (await Assert.ThrowsAsync<PostgresException>(() => ddl.ExecuteNonQueryAsync())).SqlState);
        }
        await using (var auth = new NpgsqlConnection(As("auth")))
        {
            await auth.OpenAsync();
            await using var read = new NpgsqlCommand("SELECT count(*) FROM auth.signing_keys", auth);
            Assert.True((long)(await read.ExecuteScalarAsync())! >= 1);
        }
        foreach (var service in Services.Where(s => s != "messaging"))
        {
            await using var messaging = new NpgsqlConnection(As("messaging"));
            await messaging.OpenAsync();
            await using var read = new NpgsqlCommand($"SELECT count(*) FROM {service}.\"__EFMigrationsHistory\"", messaging);
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, (await Assert.ThrowsAsync<PostgresException>(() => read.ExecuteScalarAsync())).SqlState);
        }
    }
}
