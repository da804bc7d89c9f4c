using System.Diagnostics;
using System.Net;
using EasyIm.Client;
using EasyIm.LoadTest.Targets;
using EasyIm.LoadTest.Wire;

namespace EasyIm.LoadTest.Scenarios;

/// <summary>One connection to open: whose, with which device id, handled by what.</summary>
public sealed record ConnectionPlan(Account Account, string? DeviceId, IFrameHandler Handler);

public static class Connector
{
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Opens and authenticates every planned connection, some at a time, each ready once its
    /// connect-time sync is over. All or nothing: on a failure the ones opened are cut and it throws.
    /// </summary>
    public static async Task<LoadConnection[]> ConnectAllAsync(IPEndPoint endpoint, ClientTransport transport,
        IReadOnlyList<ConnectionPlan> plans, int parallelism, CancellationToken cancellationToken)
    {
        var connections = new LoadConnection?[plans.Count];
        try
        {
            await Parallel.ForAsync(0, plans.Count, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, async (i, ct) =>
            {
                var plan = plans[i];
                var connection = await LoadConnection.OpenAsync(endpoint, transport, plan.Handler, ct);
                connections[i] = connection;
                await connection.HandshakeAsync(plan.Account.Id, plan.Account.Token, plan.DeviceId, HandshakeTimeout, ct);
            });
        }
        catch
        {
            foreach (var connection in connections)
                connection?.Abort();
            throw;
        }
        return connections!;
    }

    /// <summary><see cref="ConnectAllAsync"/>, saying how long it took.</summary>
    public static async Task<LoadConnection[]> ConnectAllAsync(ILoadTarget target, ClientTransport transport,
        IReadOnlyList<ConnectionPlan> plans, TextWriter progress, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var connections = await ConnectAllAsync(target.Endpoint, transport, plans, 32, cancellationToken);
        await progress.WriteLineAsync($"  {target.Name}: {plans.Count:N0} connections authenticated and synced in {watch.Elapsed.TotalSeconds:F1} s");
        return connections;
    }
}
