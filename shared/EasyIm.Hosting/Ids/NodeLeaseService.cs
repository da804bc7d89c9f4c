using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Hosting.Ids;

/// <summary>
/// Gives a service's <see cref="SnowflakeIds"/> its node id: <c>Ids:NodeId</c> when set, else a
/// lease on the lowest free node id in the service's own database, renewed while the process runs
/// and released when it stops, so scaled replicas never share a node id.
/// </summary>
internal sealed class NodeLeaseService<TContext>(
    IServiceScopeFactory scopes,
    SnowflakeIds ids,
    IConfiguration configuration,
    TimeProvider time,
    ILogger<NodeLeaseService<TContext>> logger) : BackgroundService where TContext : DbContext
{
    public const string NodeIdKey = "Ids:NodeId";
    private static readonly TimeSpan LeaseLength = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(15);
    private readonly string _holder = Guid.NewGuid().ToString("N");
    private bool _leased;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (configuration[NodeIdKey] is { Length: > 0 } text)
        {
            if (!int.TryParse(text, out var fixedId) || fixedId is < 0 or > SnowflakeIds.MaxNodeId)
                throw new StartupException($"{NodeIdKey} must be a number from 0 to {SnowflakeIds.MaxNodeId}, not '{text}'.");
            ids.SetNode(fixedId);
            return;
        }
        ids.SetNode(await AcquireAsync(cancellationToken));
        _leased = true;
        logger.LogInformation("Leased snowflake node id {NodeId} for {Context}", ids.NodeId, typeof(TContext).Name);
        await base.StartAsync(cancellationToken);
    }

    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    private async Task<int> AcquireAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TContext>();
            var leases = db.Set<NodeLease>();
            var now = Now;
            var live = await leases.Where(l => l.ExpiresAtMs >= now).Select(l => l.NodeId).ToListAsync(cancellationToken);
            var candidate = Enumerable.Range(0, SnowflakeIds.MaxNodeId + 1).Except(live).Cast<int?>().FirstOrDefault()
                ?? throw new StartupException($"All {SnowflakeIds.MaxNodeId + 1} snowflake node ids are leased; set {NodeIdKey} or stop some replicas.");

            // Take an expired row over, or insert a new one; whoever loses the race tries the next id.
            var taken = await leases.Where(l => l.NodeId == candidate && l.ExpiresAtMs < now)
                .ExecuteUpdateAsync(s => s.SetProperty(l => l.Holder, _holder).SetProperty(l => l.ExpiresAtMs, now + (long)LeaseLength.TotalMilliseconds), cancellationToken);
            if (taken == 1)
                return candidate;
            try
            {
                leases.Add(new NodeLease { NodeId = candidate, Holder = _holder, ExpiresAtMs = now + (long)LeaseLength.TotalMilliseconds });
                await db.SaveChangesAsync(cancellationToken);
                return candidate;
            }
            catch (DbUpdateException)
            {
                logger.LogDebug("Node id {NodeId} was taken meanwhile; trying another", candidate);
            }
        }
        throw new StartupException($"Could not lease a snowflake node id after 20 tries; set {NodeIdKey}.");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RenewEvery, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<TContext>();
                var node = ids.NodeId;
                var expires = Now + (long)LeaseLength.TotalMilliseconds;
                var renewed = await db.Set<NodeLease>().Where(l => l.NodeId == node && l.Holder == _holder)
                    .ExecuteUpdateAsync(s => s.SetProperty(l => l.ExpiresAtMs, expires), stoppingToken);
                if (renewed == 0)
                    logger.LogCritical("Lost the lease on snowflake node id {NodeId}; ids may collide with another replica", node);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Could not renew the lease on snowflake node id {NodeId}", ids.NodeId);
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (!_leased)
            return;
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TContext>();
            await db.Set<NodeLease>().Where(l => l.Holder == _holder).ExecuteDeleteAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Could not release snowflake node id {NodeId}; it frees itself when the lease expires", ids.NodeId);
        }
    }
}

public static class SnowflakeSetup
{
    /// <summary>
    /// Registers the service's id generator as a keyed singleton (key = service name), with its
    /// node id leased from <typeparamref name="TContext"/>'s database.
    /// </summary>
    public static IHostApplicationBuilder AddSnowflakeIds<TContext>(this IHostApplicationBuilder builder, string service)
        where TContext : DbContext
    {
        var ids = new SnowflakeIds(TimeProvider.System);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddKeyedSingleton(service, ids);
        builder.Services.AddHostedService(sp => ActivatorUtilities.CreateInstance<NodeLeaseService<TContext>>(sp, ids));
        return builder;
    }
}
