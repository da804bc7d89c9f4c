using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using EasyIm.IntegrationTests.Server;
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
    /// <summary>
    /// A connection string of a superuser on <c>EASYIM_TEST_POSTGRES</c>'s server: with it the distributed shape runs every
    /// service as its own role (<c>deploy/postgres-roles.sql</c>), without it as the one role of <c>EASYIM_TEST_POSTGRES</c>.
    /// </summary>
    public const string PostgresSuperuserVariable = "EASYIM_TEST_POSTGRES_SUPERUSER";

    /// <summary>The roles of <c>deploy/postgres-roles.sql</c> (<c>easyim_{name}</c>).</summary>
    public static readonly IReadOnlyList<string> DatabaseRoles = ["migrate", "auth", "friends", "messaging"];

    /// <summary>
    /// The test roles' passwords. Roles are server-wide and the roles file sets their passwords each time it runs, so
    /// every shape, and every test run on the server, gives the same ones: none changes another's under it.
    /// </summary>
    public static string DatabaseRolePassword(string role) => "easyim-test-" + role;

    private static readonly SemaphoreSlim RolesGate = new(1, 1);

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

    /// <summary>
    /// Runs <c>deploy/postgres-init.sh</c> with <c>deploy/postgres-roles.sql</c> for <paramref name="database"/> as
    /// <paramref name="superuser"/> (psql must be installed), as compose's postgres container does: the roles
    /// <c>easyim_migrate</c>, <c>easyim_auth</c>, ... with <see cref="DatabaseRolePassword"/>, and the schemas owned by
    /// the migration role. One at a time in this process; a role another test run made at the same moment is retried.
    /// </summary>
    public static async Task CreateDatabaseRolesAsync(string superuser, string database)
    {
        var server = new NpgsqlConnectionStringBuilder(superuser);
        var deploy = Path.Combine(AppContext.BaseDirectory, "deploy");
        await RolesGate.WaitAsync();
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var info = new ProcessStartInfo("bash", [Path.Combine(deploy, "postgres-init.sh")])
                {
                    RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
                };
                info.Environment["PGHOST"] = server.Host;
                info.Environment["PGPORT"] = server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
                info.Environment["PGUSER"] = server.Username;
                info.Environment["PGPASSWORD"] = server.Password;
                info.Environment["POSTGRES_USER"] = server.Username;
                info.Environment["POSTGRES_DB"] = database;
                info.Environment["EASYIM_ROLES_SQL"] = Path.Combine(deploy, "postgres-roles.sql");
                foreach (var role in DatabaseRoles)
                    info.Environment[$"EASYIM_{role.ToUpperInvariant()}_PASSWORD"] = DatabaseRolePassword(role);
                var (exitCode, output) = await RunScriptAsync(info, "deploy/postgres-init.sh");
                if (exitCode == 0)
                    return;
                if (attempt == 1 && output.Contains("already exists", StringComparison.Ordinal))
                    continue;
                throw new InvalidOperationException($"deploy/postgres-init.sh exited with {exitCode}: {output}");
            }
        }
        finally
        {
            RolesGate.Release();
        }
    }

    /// <summary>The services that have a broker account of their own (deploy/rabbitmq-accounts.sh).</summary>
    public static readonly IReadOnlyList<string> BrokerServices = ["auth", "friends", "messaging", "gateway"];

    /// <summary>
    /// A RabbitMQ vhost of its own on <paramref name="rabbitMq"/>'s broker with one account per service, made by
    /// <c>deploy/rabbitmq-accounts.sh</c> as compose makes them (through the management API, as in
    /// <see cref="ManagementApi"/>). Users are broker-wide: theirs are named <c>{name}_auth</c> and so on, so that test runs
    /// sharing a broker never meet. Returns each service's amqp:// address and a way to delete the vhost and the users.
    /// </summary>
    public static async Task<BrokerAccounts> CreateBrokerAccountsAsync(string rabbitMq, string name)
    {
        var amqp = new Uri(rabbitMq);
        var credentials = Uri.UnescapeDataString(amqp.UserInfo.Length > 0 ? amqp.UserInfo : "guest:guest").Split(':', 2);
        using var api = ManagementApi(rabbitMq);
        var passwords = BrokerServices.ToDictionary(s => s, _ => Guid.NewGuid().ToString("N"));
        var script = Path.Combine(AppContext.BaseDirectory, "deploy", "rabbitmq-accounts.sh");
        var info = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["EASYIM_RABBITMQ_API"] = api.BaseAddress!.ToString();
        info.Environment["EASYIM_RABBITMQ_ADMIN_USER"] = credentials[0];
        info.Environment["EASYIM_RABBITMQ_ADMIN_PASSWORD"] = credentials.Length > 1 ? credentials[1] : "";
        info.Environment["EASYIM_RABBITMQ_VHOST"] = name;
        info.Environment["EASYIM_RABBITMQ_USER_PREFIX"] = name + "_";
        info.Environment["EASYIM_RABBITMQ_WAIT"] = "30";
        foreach (var (service, password) in passwords)
            info.Environment[$"EASYIM_RABBITMQ_{service.ToUpperInvariant()}_PASSWORD"] = password;
        var accounts = new BrokerAccounts(name, BrokerServices.ToDictionary(s => s, s => new UriBuilder(amqp)
        {
            UserName = Uri.EscapeDataString(name + "_" + s),
            Password = passwords[s],
            Path = "/" + name,
        }.Uri.ToString()), rabbitMq);
        try
        {
            var (exitCode, output) = await RunScriptAsync(info, script);
            if (exitCode != 0)
                throw new InvalidOperationException($"{script} exited with {exitCode}: {output}");
        }
        catch
        {
            await accounts.DeleteAsync();
            throw;
        }
        return accounts;
    }

    /// <summary>Runs a deploy script to its end, for at most a minute (killed and a <see cref="TimeoutException"/> past it); returns its exit code and output.</summary>
    private static async Task<(int ExitCode, string Output)> RunScriptAsync(ProcessStartInfo info, string name)
    {
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{name} did not finish within 60 s: {await stdout}{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>
    /// RabbitMQ's management API for <paramref name="rabbitMq"/>'s broker (<c>EASYIM_TEST_RABBITMQ_API</c>, else port
    /// 15672 of the broker's host), with the broker address's credentials.
    /// </summary>
    public static HttpClient ManagementApi(string rabbitMq)
    {
        var amqp = new Uri(rabbitMq);
        var credentials = Uri.UnescapeDataString(amqp.UserInfo.Length > 0 ? amqp.UserInfo : "guest:guest");
        var address = Environment.GetEnvironmentVariable("EASYIM_TEST_RABBITMQ_API") is { Length: > 0 } configured
            ? new Uri(configured)
            : new UriBuilder("http", amqp.Host, 15672).Uri;
        var api = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        return api;
    }

    public static int FreePort() => TestPorts.Free();
}

/// <summary>
/// A vhost with one broker account per service (<see cref="TestInfrastructure.CreateBrokerAccountsAsync"/>): each
/// service's amqp:// address, as its <c>ConnectionStrings:rabbitmq</c>.
/// </summary>
public sealed record BrokerAccounts(string VirtualHost, IReadOnlyDictionary<string, string> Addresses, string Admin)
{
    /// <summary>The address of <paramref name="service"/>'s own account.</summary>
    public string For(string service) => Addresses.TryGetValue(service, out var address)
        ? address
        : throw new ArgumentException($"no broker account for '{service}' (there are {string.Join(", ", Addresses.Keys)})", nameof(service));

    /// <summary>Deletes the vhost (and all in it) and the accounts; what is already gone is no error.</summary>
    public async Task DeleteAsync()
    {
        using var api = TestInfrastructure.ManagementApi(Admin);
        await api.DeleteAsync($"api/vhosts/{Uri.EscapeDataString(VirtualHost)}");
        foreach (var service in Addresses.Keys)
            await api.DeleteAsync($"api/users/{Uri.EscapeDataString(VirtualHost + "_" + service)}");
    }
}
