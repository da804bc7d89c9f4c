using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Npgsql;

namespace EasyIm.LoadTest.Targets;

/// <summary>
/// Where the distributed shape finds RabbitMQ and PostgreSQL. Defaults are the local ones; options or
/// <c>EASYIM_LOAD_RABBITMQ</c>, <c>EASYIM_LOAD_RABBITMQ_API</c>, <c>EASYIM_LOAD_POSTGRES</c> override them.
/// </summary>
/// <param name="RabbitMq">An amqp:// address; its path (vhost) is replaced by the run's own vhost.</param>
/// <param name="RabbitMqApi">The management HTTP API, credentials in the user-info part.</param>
/// <param name="PostgresAdmin">A connection string whose role may CREATE DATABASE.</param>
public sealed record InfrastructureOptions(string RabbitMq, string RabbitMqApi, string PostgresAdmin)
{
    public const string RabbitMqVariable = "EASYIM_LOAD_RABBITMQ";
    public const string RabbitMqApiVariable = "EASYIM_LOAD_RABBITMQ_API";
    public const string PostgresVariable = "EASYIM_LOAD_POSTGRES";

    public const string DefaultRabbitMq = "amqp://guest:guest@127.0.0.1:5672/";
    public const string DefaultRabbitMqApi = "http://guest:guest@127.0.0.1:15672/";
    public const string DefaultPostgres = "Host=127.0.0.1;Username=easyim;Password=easyim;Database=postgres";
}

/// <summary>
/// A run's own RabbitMQ vhost and PostgreSQL database (both named <c>load_&lt;run&gt;</c>), so a run
/// never meets another's queues or rows; both are deleted at the end.
/// </summary>
public sealed class Infrastructure : IAsyncDisposable
{
    private readonly InfrastructureOptions _options;
    private readonly HttpClient _api;
    private bool _vhostCreated;
    private bool _databaseCreated;

    private Infrastructure(InfrastructureOptions options, string name)
    {
        _options = options;
        Name = name;
        var api = new Uri(options.RabbitMqApi);
        _api = new HttpClient { BaseAddress = new UriBuilder(api) { UserName = "", Password = "" }.Uri, Timeout = TimeSpan.FromSeconds(30) };
        var credentials = Uri.UnescapeDataString(api.UserInfo.Length > 0 ? api.UserInfo : "guest:guest");
        _api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        var amqp = new Uri(options.RabbitMq);
        RabbitMq = new UriBuilder(amqp) { Path = "/" + name }.Uri.ToString();
        Postgres = new NpgsqlConnectionStringBuilder(options.PostgresAdmin) { Database = name }.ConnectionString;
    }

    /// <summary>Both the vhost and the database.</summary>
    public string Name { get; }

    /// <summary>The amqp:// address of the run's vhost.</summary>
    public string RabbitMq { get; }

    /// <summary>The connection string of the run's database.</summary>
    public string Postgres { get; }

    /// <summary>PostgreSQL's connections while the run lasts.</summary>
    public PostgresConnectionSampler? PostgresSampler { get; private set; }

    public static async Task<Infrastructure> CreateAsync(InfrastructureOptions options, string name, CancellationToken cancellationToken)
    {
        var infrastructure = new Infrastructure(options, name);
        try
        {
            await infrastructure.CreateVhostAsync(cancellationToken);
            await infrastructure.CreateDatabaseAsync(cancellationToken);
            infrastructure.PostgresSampler = await PostgresConnectionSampler.StartAsync(options.PostgresAdmin, name, cancellationToken);
            return infrastructure;
        }
        catch
        {
            await infrastructure.DisposeAsync();
            throw;
        }
    }

    private async Task CreateVhostAsync(CancellationToken cancellationToken)
    {
        var vhost = Uri.EscapeDataString(Name);
        var user = Uri.UnescapeDataString(new Uri(_options.RabbitMq).UserInfo.Split(':')[0]);
        try
        {
            (await _api.PutAsync($"api/vhosts/{vhost}", JsonContent.Create(new { }), cancellationToken)).EnsureSuccessStatusCode();
            _vhostCreated = true;
            (await _api.PutAsJsonAsync($"api/permissions/{vhost}/{Uri.EscapeDataString(user)}",
                new { configure = ".*", write = ".*", read = ".*" }, cancellationToken)).EnsureSuccessStatusCode();
        }
        catch (HttpRequestException ex)
        {
            throw new InvalidOperationException(
                $"could not create the RabbitMQ vhost {Name} through the management API at {_api.BaseAddress} ({ex.Message}); " +
                $"set --rabbitmq-api or {InfrastructureOptions.RabbitMqApiVariable}", ex);
        }
    }

    private async Task CreateDatabaseAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var admin = new NpgsqlConnection(_options.PostgresAdmin);
            await admin.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{Name}\"", admin);
            await create.ExecuteNonQueryAsync(cancellationToken);
            _databaseCreated = true;
        }
        catch (NpgsqlException ex)
        {
            throw new InvalidOperationException(
                $"could not create the PostgreSQL database {Name} ({ex.Message}); set --postgres or {InfrastructureOptions.PostgresVariable} " +
                "to a connection string whose role may CREATE DATABASE", ex);
        }
    }

    /// <summary>Drops the database (its connections too) and deletes the vhost (its queues too). Never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        if (PostgresSampler is not null)
            await PostgresSampler.DisposeAsync();
        if (_databaseCreated)
        {
            try
            {
                NpgsqlConnection.ClearAllPools();
                await using var admin = new NpgsqlConnection(_options.PostgresAdmin);
                await admin.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", admin);
                await drop.ExecuteNonQueryAsync();
            }
            catch (Exception ex)
            {
                await Console.Error.WriteLineAsync($"could not drop the database {Name}: {ex.Message}");
            }
        }
        if (_vhostCreated)
        {
            try
            {
                (await _api.DeleteAsync($"api/vhosts/{Uri.EscapeDataString(Name)}")).EnsureSuccessStatusCode();
            }
            catch (Exception ex)
            {
                await Console.Error.WriteLineAsync($"could not delete the RabbitMQ vhost {Name}: {ex.Message}");
            }
        }
        _api.Dispose();
    }
}
