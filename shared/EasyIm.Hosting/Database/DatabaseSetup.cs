using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

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
            var connectionString = SqliteConnectionString(builder.Configuration.GetDataDirectory(), service);
            builder.Services.AddDbContext<TContext, TSqlite>(o => o.UseSqlite(connectionString));
        }
        else
        {
            var connectionString = PostgresConnectionString(builder.Configuration, service);
            builder.Services.AddDbContext<TContext, TPostgres>(o => o.UseNpgsql(connectionString,
                npgsql => npgsql.MigrationsHistoryTable(HistoryTable, service)));
        }

        var database = new ServiceDatabase<TContext>(service, provider);
        builder.Services.AddSingleton<IServiceDatabase>(database);
        // Not AddHostedService: it skips a second MigrateOnStart, so in a process running several services
        // only the first service's database would be migrated.
        builder.Services.AddSingleton<IHostedService>(sp => new MigrateOnStart(sp, database));
        builder.Services.AddHealthChecks().AddCheck<DbContextHealthCheck<TContext>>($"database-{service}", tags: ["ready"]);
        return builder;
    }

    public const string HistoryTable = "__EFMigrationsHistory";

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
