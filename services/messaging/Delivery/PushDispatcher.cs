using System.Collections.Concurrent;
using EasyIm.Contracts.Gateway;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Messaging.Delivery;

/// <summary>
/// Turns a batch's pushes into as few bus messages as it can: one <see cref="PushToUsers"/> per target
/// gateway (sent to its own queue), plus one published to every gateway for what cannot be targeted.
/// </summary>
public sealed class PushDispatcher(DeliveryRouter router, MessagingOptions options, TimeProvider time, ILogger<PushDispatcher> logger)
{
    /// <summary>Bounds a bus message's size whatever the batch.</summary>
    public const int MaxPushesPerMessage = 500;
    private static readonly TimeSpan FallbackFor = TimeSpan.FromSeconds(30);

    /// <summary>Gateways whose queue could not be sent to, and until when their pushes are published instead.</summary>
    private readonly ConcurrentDictionary<string, DateTimeOffset> _unreachable = new(StringComparer.Ordinal);

    public async Task DispatchAsync(ConsumeContext context, IReadOnlyList<OutgoingPush> pushes)
    {
        if (pushes.Count == 0)
            return;
        var plan = router.Plan(pushes);
        var broadcast = plan.Broadcast;
        foreach (var (gateway, list) in plan.ByGateway)
        {
            if (_unreachable.TryGetValue(gateway, out var until) && until > time.GetUtcNow())
                broadcast.AddRange(list);
            else if (!await TrySendAsync(context, gateway, list))
                broadcast.AddRange(list);
        }
        foreach (var chunk in broadcast.Chunk(MaxPushesPerMessage))
            await context.Publish(new PushToUsers(chunk), context.CancellationToken);
    }

    /// <summary>Pushes to one gateway's connections, bypassing presence (a replay to a gateway just heard from).</summary>
    public async Task SendToGatewayAsync(ConsumeContext context, string gateway, IReadOnlyList<UserPush> pushes)
    {
        if (pushes.Count > 0 && !await TrySendAsync(context, gateway, pushes))
        {
            foreach (var chunk in pushes.Chunk(MaxPushesPerMessage))
                await context.Publish(new PushToUsers(chunk), context.CancellationToken);
        }
    }

    private async Task<bool> TrySendAsync(ConsumeContext context, string gateway, IReadOnlyList<UserPush> pushes)
    {
        try
        {
            var endpoint = await context.GetSendEndpoint(new Uri(string.Format(options.GatewayAddress, gateway)));
            foreach (var chunk in pushes.Chunk(MaxPushesPerMessage))
                await endpoint.Send(new PushToUsers(chunk), context.CancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Most likely the gateway's queue exists with other settings than the address declares it with
            // (Messaging:GatewayAddress). Publishing still reaches it, at the cost of reaching every gateway.
            _unreachable[gateway] = time.GetUtcNow() + FallbackFor;
            logger.LogError(ex, "Could not send to gateway {GatewayId} at {Address}; publishing its pushes to every gateway for {Seconds} s",
                gateway, string.Format(options.GatewayAddress, gateway), FallbackFor.TotalSeconds);
            return false;
        }
    }
}
