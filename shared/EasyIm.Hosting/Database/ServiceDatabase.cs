using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Hosting.Database;

/// <summary>One service's database, as <c>easyim migrate</c> and the start-up see it.</summary>
public interface IServiceDatabase
{
    string Service { get; }
    DatabaseProvider Provider { get; }
    Task MigrateAsync(IServiceProvider services, CancellationToken cancellationToken);
}

internal sealed class ServiceDatabase<TContext>(string service, DatabaseProvider provider) : IServiceDatabase
    where TContext : DbContext
{
    public string Service => service;
    public DatabaseProvider Provider => provider;

    public async Task MigrateAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TContext>();
        var logger = scope.ServiceProvider.GetRequiredService<ILogger<ServiceDatabase<TContext>>>();
        if (provider == DatabaseProvider.Postgres)
            await EnsureDatabaseAsync(db, logger, cancellationToken);
        // The history table first (IF NOT EXISTS, so replicas racing here are fine): on a fresh database
        // EF Core would otherwise read it before making it and log that failed read as an error.
        await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(cancellationToken);
        // EF Core takes a database-wide lock while migrating, so replicas starting together are safe.
        await db.Database.MigrateAsync(cancellationToken);
        if (provider == DatabaseProvider.Sqlite)
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        logger.LogInformation("Database of {Service} is up to date ({Provider})", service, provider);
    }

    /// <summary>
    /// Creates the connection string's database when it does not exist, as EF Core's own migrate would
    /// (the history table above is made first, which needs the database). The services of a cluster start
    /// together and each may try: one creates it, the others find it made.
    /// </summary>
    private async Task EnsureDatabaseAsync(TContext db, ILogger logger, CancellationToken cancellationToken)
    {
        var creator = db.GetService<IRelationalDatabaseCreator>();
        if (await creator.ExistsAsync(cancellationToken))
            return;
        var name = db.Database.GetDbConnection().Database;
        try
        {
            await creator.CreateAsync(cancellationToken);
            logger.LogInformation("Created the PostgreSQL database {Database} for {Service}", name, service);
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
        {
            // Another service of the cluster created it first.
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new StartupException(
                $"The PostgreSQL database '{name}' does not exist and this role may not create it ({ex.MessageText}). " +
                $"Create it (CREATE DATABASE \"{name}\" OWNER <role>;) or give the role CREATEDB.");
        }
    }
}

/// <summary>Applies a service's migrations when the process starts, before the bus consumes anything.</summary>
internal sealed class MigrateOnStart(IServiceProvider services, IServiceDatabase database) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => database.MigrateAsync(services, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
