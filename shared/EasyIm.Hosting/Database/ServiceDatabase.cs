using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
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
        // The history table first (IF NOT EXISTS, so replicas racing here are fine): on a fresh database
        // EF Core would otherwise read it before making it and log that failed read as an error.
        await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(cancellationToken);
        // EF Core takes a database-wide lock while migrating, so replicas starting together are safe.
        await db.Database.MigrateAsync(cancellationToken);
        if (provider == DatabaseProvider.Sqlite)
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        logger.LogInformation("Database of {Service} is up to date ({Provider})", service, provider);
    }
}

/// <summary>Applies a service's migrations when the process starts, before the bus consumes anything.</summary>
internal sealed class MigrateOnStart(IServiceProvider services, IServiceDatabase database) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => database.MigrateAsync(services, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
