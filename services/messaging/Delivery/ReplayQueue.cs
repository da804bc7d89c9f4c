using System.Threading.Channels;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Messaging.Delivery;

/// <summary>
/// The replays presence asks for (<see cref="DeliveryRouter"/>), worked off the presence endpoint: each reads the
/// database and sends, and a slow database must not hold up the presence events queued behind it (a held-up
/// beat is a lease judged late, a held-up connect is a user routed nowhere). One at a time, in the order asked.
/// </summary>
public sealed class ReplayQueue(IServiceScopeFactory scopes, IBus bus, ILogger<ReplayQueue> logger) : BackgroundService
{
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);
    private const int Attempts = 3;

    private readonly Channel<ReplayRequest> _queue = Channel.CreateUnbounded<ReplayRequest>(new UnboundedChannelOptions { SingleReader = true });

    public void Enqueue(IEnumerable<ReplayRequest> replays)
    {
        foreach (var replay in replays)
            _queue.Writer.TryWrite(replay);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var replay in _queue.Reader.ReadAllAsync(stoppingToken))
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    await scope.ServiceProvider.GetRequiredService<ConversationSync>().ReplayAsync(replay, bus, stoppingToken);
                    break;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    if (attempt >= Attempts)
                    {
                        // The connection's gap fill or its next sync still brings them: a replay only makes them arrive sooner.
                        logger.LogWarning(ex, "Could not replay {Count} messages to user {UserId} on gateway {GatewayId}", replay.Messages.Count, replay.UserId, replay.GatewayId);
                        break;
                    }
                    await Task.Delay(RetryAfter, stoppingToken);
                }
            }
        }
    }
}
