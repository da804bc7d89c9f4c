using System.Data.Common;
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

    /// <summary>The migrations not applied yet to this service's database (read only: the history table).</summary>
    Task<IReadOnlyList<string>> PendingAsync(IServiceProvider services, CancellationToken cancellationToken);
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

    public async Task<IReadOnlyList<string>> PendingAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TContext>();
        return [.. await db.Database.GetPendingMigrationsAsync(cancellationToken)];
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

/// <summary>
/// Applies a service's migrations when the process starts, before the bus consumes anything; or, with
/// <c>Database:MigrateOnStart</c> false (a run-time role that may not change the schema, migrations by
/// <c>easyim migrate</c> with a role that may), only checks that none is pending, and refuses to start if one is.
/// </summary>
internal sealed class MigrateOnStart(IServiceProvider services, IServiceDatabase database, bool migrate) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (migrate)
        {
            await database.MigrateAsync(services, cancellationToken);
            return;
        }
        IReadOnlyList<string> pending;
        try
        {
            pending = await database.PendingAsync(services, cancellationToken);
        }
        catch (DbException ex)
        {
            throw new StartupException($"The database of {database.Service} could not be checked for pending migrations ({ex.Message}); " +
                $"with {DatabaseSetup.MigrateOnStartKey}=false, run `easyim migrate` first with a role that may change the schema.");
        }
        if (pending.Count > 0)
            throw new StartupException($"The database of {database.Service} lacks {pending.Count} migrations ({string.Join(", ", pending)}) and " +
                $"{DatabaseSetup.MigrateOnStartKey} is false: run `easyim migrate` with a role that may change the schema, then start again.");
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
