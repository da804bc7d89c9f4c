using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Hosting.Outbox;

/// <summary>
/// Publishes the outbox rows nobody is publishing: those whose request failed to publish them after the commit
/// or died before it could. Each round claims up to a batch of rows whose claim has run out (one UPDATE, so two
/// replicas never claim the same row), publishes the ones it claimed in id order, and deletes them.
/// </summary>
public sealed class OutboxRelay<TContext>(IServiceProvider services, OutboxOptions options, TimeProvider time,
    ILogger<OutboxRelay<TContext>> logger) : BackgroundService
    where TContext : DbContext
{
    private readonly string _id = Guid.NewGuid().ToString("N");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.RelayEveryMs), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                // A full batch means there may be more: go on at once.
                while (await RelayAsync(stoppingToken) == options.RelayBatch)
                {
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The database or the broker may be away for a while; the next round tries again.
                logger.LogWarning(ex, "The outbox relay of {Context} could not publish this round", typeof(TContext).Name);
            }
        }
    }

    /// <summary>One round: returns how many rows it claimed.</summary>
    public async Task<int> RelayAsync(CancellationToken cancellationToken)
    {
        // A host without a bus (a migration, a test of the database alone) has nothing to relay to.
        if (services.GetService<IBus>() is not { } bus)
            return 0;
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TContext>();
        var deliveries = scope.ServiceProvider.GetServices<IOutboxDelivery>();
        var outbox = db.Set<OutboxMessage>();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var until = now + options.ClaimMs;
        var candidates = await outbox.AsNoTracking().Where(m => m.ClaimedUntilMs < now)
            .OrderBy(m => m.Id).Select(m => m.Id).Take(options.RelayBatch).ToListAsync(cancellationToken);
        if (candidates.Count == 0)
            return 0;
        await outbox.Where(m => candidates.Contains(m.Id) && m.ClaimedUntilMs < now)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.ClaimedUntilMs, until).SetProperty(m => m.ClaimedBy, _id), cancellationToken);
        var rows = await outbox.AsNoTracking().Where(m => candidates.Contains(m.Id) && m.ClaimedBy == _id && m.ClaimedUntilMs == until)
            .OrderBy(m => m.Id).ToListAsync(cancellationToken);

        var done = new List<long>();
        try
        {
            foreach (var row in rows)
            {
                object message;
                Type type;
                try
                {
                    (message, type) = OutboxModel.Read(row);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Written by a version that had this type; it can never be published: say so, and drop it.
                    logger.LogError(ex, "Outbox row {Id} of type {Type} cannot be read; dropping it", row.Id, row.MessageType);
                    done.Add(row.Id);
                    continue;
                }
                await OutboxDeliveries.DeliverAsync(deliveries, message, type, bus, cancellationToken);
                done.Add(row.Id);
            }
        }
        finally
        {
            if (done.Count > 0)
            {
                await outbox.Where(m => done.Contains(m.Id)).ExecuteDeleteAsync(CancellationToken.None);
                logger.LogInformation("The outbox relay of {Context} published {Count} messages their requests had not", typeof(TContext).Name, done.Count);
            }
        }
        return candidates.Count;
    }
}

public static class OutboxSetup
{
    /// <summary>
    /// The outbox of a service's database: <see cref="Outbox{TContext}"/> per request (scoped, sharing the request's
    /// DbContext) and its <see cref="OutboxRelay{TContext}"/>. The context's model must call <see cref="OutboxModel.AddOutbox"/>.
    /// </summary>
    public static IHostApplicationBuilder AddOutbox<TContext>(this IHostApplicationBuilder builder) where TContext : DbContext
    {
        builder.Services.TryAddSingleton(OutboxOptions.Read(builder.Configuration));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddScoped<Outbox<TContext>>();
        builder.Services.AddSingleton<OutboxRelay<TContext>>();
        builder.Services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<OutboxRelay<TContext>>());
        return builder;
    }
}
