using Microsoft.Data.Sqlite;
using Npgsql;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Hosting.Database;

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

public static class DatabaseSetup
{
    public const string ProviderKey = "Database:Provider";

    public static DatabaseProvider GetDatabaseProvider(this IConfiguration configuration)
    {
        var value = configuration[ProviderKey];
        if (string.IsNullOrWhiteSpace(value))
            return DatabaseProvider.Sqlite;
        return value.ToLowerInvariant() switch
        {
            "sqlite" or "sqlite3" => DatabaseProvider.Sqlite,
            "postgres" or "postgresql" or "npgsql" => DatabaseProvider.Postgres,
            _ => throw new StartupException($"{ProviderKey} must be Sqlite or Postgres, not '{value}'."),
        };
    }

    /// <summary>
    /// Registers a service's own database: <typeparamref name="TContext"/> resolves to the
    /// provider-specific subclass that <c>Database:Provider</c> selects (each subclass carries
    /// that provider's migrations). SQLite keeps one file per service under the data directory;
    /// PostgreSQL reads <c>ConnectionStrings:&lt;service&gt;</c> (or <c>ConnectionStrings:postgres</c>)
    /// and keeps the service's tables in a schema named after it, so services may share a database.
    /// Migrations are applied at start, before the bus starts.
    /// </summary>
    public static IHostApplicationBuilder AddServiceDatabase<TContext, TSqlite, TPostgres>(
        this IHostApplicationBuilder builder, string service)
        where TContext : DbContext
        where TSqlite : TContext
        where TPostgres : TContext
    {
        var provider = builder.Configuration.GetDatabaseProvider();
        if (provider == DatabaseProvider.Sqlite)
        {
            var dataDirectory = builder.Configuration.GetDataDirectory();
            var connectionString = SqliteConnectionString(dataDirectory, service);
            // One holder per process, registered before the first service's migrations run.
            if (!builder.Services.Any(d => d.ServiceType == typeof(DataDirectoryLockHolder)))
            {
                builder.Services.AddSingleton(_ => new DataDirectoryLockHolder(dataDirectory));
                builder.Services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<DataDirectoryLockHolder>());
            }
            var bound = GetSqliteWalBound(builder.Configuration);
            var pragmas = new SqlitePragmas(GetSqliteSynchronous(builder.Configuration), bound);
            builder.Services.AddKeyedSingleton(service, (sp, _) => new SqliteLog(service, SqliteWalPath(connectionString), bound,
                sp.GetService<TimeProvider>() ?? TimeProvider.System, sp.GetRequiredService<ILogger<SqliteLog>>()));
            builder.Services.AddDbContext<TContext, TSqlite>((sp, o) => o.UseSqlite(connectionString)
                .AddInterceptors(pragmas, new SqliteRestartOnCommit(sp.GetRequiredKeyedService<SqliteLog>(service))));
            builder.Services.AddSingleton<IHostedService>(sp => new SqliteCheckpointer(connectionString, sp.GetRequiredKeyedService<SqliteLog>(service), service,
                sp.GetService<TimeProvider>() ?? TimeProvider.System, sp.GetRequiredService<ILogger<SqliteCheckpointer>>()));
        }
        else
        {
            var connectionString = BoundPool(PostgresConnectionString(builder.Configuration, service), GetMaxPoolSize(builder.Configuration));
            builder.Services.AddDbContext<TContext, TPostgres>(o => o.UseNpgsql(connectionString,
                npgsql => npgsql.MigrationsHistoryTable(HistoryTable, service)));
        }

        var database = new ServiceDatabase<TContext>(service, provider);
        builder.Services.AddSingleton<IServiceDatabase>(database);
        // Not AddHostedService: it adds by TryAddEnumerable, which keeps one MigrateOnStart per
        // process and would silently skip the migrations of every service database after the first.
        var migrateOnStart = builder.Configuration.GetValue(MigrateOnStartKey, true);
        builder.Services.AddSingleton<IHostedService>(sp => new MigrateOnStart(sp, database, migrateOnStart));
        builder.Services.AddHealthChecks().AddCheck<DbContextHealthCheck<TContext>>($"database-{service}", tags: ["ready"]);
        return builder;
    }

    public const string HistoryTable = "__EFMigrationsHistory";
    /// <summary>
    /// True (the default): each service applies its migrations at start. False: it only checks that none is pending,
    /// for run-time roles that may not change the schema (deploy/postgres-roles.sql); `easyim migrate` applies them.
    /// </summary>
    public const string MigrateOnStartKey = "Database:MigrateOnStart";
    public const string MaxPoolSizeKey = "Database:MaxPoolSize";
    public const string SqliteSynchronousKey = "Database:SqliteSynchronous";
    public const string SqliteWalLimitKey = "Database:SqliteWalLimitMB";

    /// <summary>
    /// Connections one process opens to PostgreSQL per service, at most. Npgsql's own default (100) lets
    /// three services on one server exhaust PostgreSQL's default max_connections (100) under load; with 10,
    /// every service of a cluster and several replicas fit. A connection string's own Maximum Pool Size wins.
    /// </summary>
    public const int DefaultMaxPoolSize = 10;

    public static int GetMaxPoolSize(IConfiguration configuration)
    {
        var text = configuration[MaxPoolSizeKey];
        if (string.IsNullOrWhiteSpace(text))
            return DefaultMaxPoolSize;
        return int.TryParse(text, out var size) && size is >= 2 and <= 1000
            ? size
            : throw new StartupException($"{MaxPoolSizeKey} must be a number of connections from 2 to 1000, not '{text}'.");
    }

    /// <summary>SQLite's <c>synchronous</c>: FULL (the default) makes every commit durable against power loss, NORMAL only against a process crash.</summary>
    public static string GetSqliteSynchronous(IConfiguration configuration)
    {
        var text = configuration[SqliteSynchronousKey];
        if (string.IsNullOrWhiteSpace(text))
            return "FULL";
        return text.ToUpperInvariant() is "FULL" or "NORMAL" or "EXTRA"
            ? text.ToUpperInvariant()
            : throw new StartupException($"{SqliteSynchronousKey} must be Full, Normal or Extra, not '{text}'.");
    }

    /// <summary>
    /// The bound on each SQLite database's write-ahead log (<see cref="SqliteCheckpointer"/>), in whole MB:
    /// 256 by default. At least 1; at most 1,048,576 (1 TB).
    /// </summary>
    public static SqliteWalBound GetSqliteWalBound(IConfiguration configuration)
    {
        var text = configuration[SqliteWalLimitKey];
        if (string.IsNullOrWhiteSpace(text))
            return new SqliteWalBound(SqliteWalBound.DefaultLimitMb * 1024L * 1024);
        return int.TryParse(text, out var mb) && mb is >= 1 and <= 1024 * 1024
            ? new SqliteWalBound(mb * 1024L * 1024)
            : throw new StartupException($"{SqliteWalLimitKey} must be a whole number of megabytes from 1 to 1048576, not '{text}'.");
    }

    public static string BoundPool(string connectionString, int maxPoolSize)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var own = connectionString.Contains("Maximum Pool Size", StringComparison.OrdinalIgnoreCase)
            || connectionString.Contains("Max Pool Size", StringComparison.OrdinalIgnoreCase)
            || connectionString.Contains("MaxPoolSize", StringComparison.OrdinalIgnoreCase);
        if (!own)
            builder.MaxPoolSize = maxPoolSize;
        return builder.ConnectionString;
    }

    /// <summary>The write-ahead log of the SQLite database of <paramref name="connectionString"/>.</summary>
    public static string SqliteWalPath(string connectionString) => new SqliteConnectionStringBuilder(connectionString).DataSource + "-wal";

    public static string SqliteConnectionString(string dataDirectory, string service) =>
        new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(dataDirectory, service + ".db"),
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();

    public static string PostgresConnectionString(IConfiguration configuration, string service) =>
        configuration.GetConnectionString(service) is { Length: > 0 } own ? own
        : configuration.GetConnectionString("postgres") is { Length: > 0 } shared ? shared
        : throw new StartupException(
            $"ConnectionStrings:{service} (or ConnectionStrings:postgres for all services) is required when {ProviderKey} is Postgres, " +
            $"e.g. Host=127.0.0.1;Username=easyim;Password=easyim;Database=easyim (environment variable ConnectionStrings__{service}).");
}
