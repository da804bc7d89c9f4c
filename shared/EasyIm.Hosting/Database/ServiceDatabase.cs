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
    /// <summary>The type the service resolves its context as (<c>easyim migrate --from</c> copies every entity type of its model).</summary>
    Type ContextType { get; }
    Task MigrateAsync(IServiceProvider services, CancellationToken cancellationToken);
}

internal sealed class ServiceDatabase<TContext>(string service, DatabaseProvider provider) : IServiceDatabase
    where TContext : DbContext
{
    public string Service => service;
    public DatabaseProvider Provider => provider;
    public Type ContextType => typeof(TContext);

    public async Task MigrateAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TContext>();
        var logger = scope.ServiceProvider.GetRequiredService<ILogger<ServiceDatabase<TContext>>>();
        if (provider == DatabaseProvider.Postgres)
        {
            await EnsureDatabaseAsync(db, logger, cancellationToken);
            await MigrateUnderLockAsync(db, cancellationToken);
        }
        else
        {
            await MigrateCoreAsync(db, cancellationToken);
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }
        logger.LogInformation("Database of {Service} is up to date ({Provider})", service, provider);
    }

    private static async Task MigrateCoreAsync(TContext db, CancellationToken cancellationToken)
    {
        // The history table first: on a fresh database EF Core would otherwise read it before making it
        // and log that failed read as an error.
        await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(cancellationToken);
        await db.Database.MigrateAsync(cancellationToken);
    }

    /// <summary>
    /// Replicas of one service starting together raced here: EF Core's own migration lock did not keep two
    /// of them from applying the same migration (42P07 "relation already exists", 42701 on an added
    /// column; one CI run lost a cluster to it), and PostgreSQL's <c>CREATE ... IF NOT EXISTS</c> is not
    /// safe against a concurrent twin either. A session advisory lock named after the service, held on the
    /// connection that migrates, lets one replica at a time in; the others then find everything made.
    /// </summary>
    private async Task MigrateUnderLockAsync(TContext db, CancellationToken cancellationToken)
    {
        var lockName = "easyim.migrate." + service;
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_lock(hashtext({0}))", [lockName], cancellationToken);
            try
            {
                await MigrateCoreAsync(db, cancellationToken);
            }
            finally
            {
                await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_unlock(hashtext({0}))", [lockName], CancellationToken.None);
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
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
