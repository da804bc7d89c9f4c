using System.Collections.Concurrent;
using EasyIm.Contracts.Gateway;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Messaging.Delivery;

/// <summary>
/// Turns a batch's pushes into as few bus messages as it can: one <see cref="PushToUsers"/> per target
/// gateway (sent to its own endpoint), plus one published to every gateway for what cannot be targeted.
/// </summary>
public sealed class PushDispatcher(DeliveryRouter router, IBus bus, MessagingOptions options, TimeProvider time, ILogger<PushDispatcher> logger)
{
    /// <summary>Bounds a bus message's size whatever the batch.</summary>
    public const int MaxPushesPerMessage = 1000;

    /// <summary>
    /// How a gateway's endpoint can be addressed. On RabbitMQ a send declares its destination, and a
    /// declaration that differs from the endpoint's own (durable vs temporary, exclusive) fails or never
    /// completes; so the configured form is tried first, then the other, and the one that works is kept
    /// per gateway. Sends go through the bus, not the consume context: on RabbitMQ the context's sends
    /// share the consuming channel, which a refused declaration closes, taking the message being consumed with it.
    /// <para>
    /// Only the temporary form is tried unasked: a send to <c>queue:gateway-{0}</c> declares a durable queue,
    /// and when it was tried for a gateway that had died (its temporary exchange gone, so the first form
    /// failed) it left a durable queue filling with that gateway's pushes until the lease ended, and a
    /// queue that a gateway restarted with the same id could not declare as its own. A gateway with a
    /// durable endpoint is addressed by configuring <c>Messaging:GatewayAddress</c> to <c>queue:gateway-{0}</c>.
    /// </para>
    /// </summary>
    private static readonly string[] KnownAddressForms = ["exchange:gateway-{0}?temporary=true"];
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan FallbackFor = TimeSpan.FromSeconds(60);

    private readonly string[] _addressForms = [options.GatewayAddress, .. KnownAddressForms.Where(f => f != options.GatewayAddress)];
    private readonly ConcurrentDictionary<string, int> _formOf = new(StringComparer.Ordinal);
    /// <summary>Gateways no address form reached, and until when their pushes are published instead.</summary>
    private readonly ConcurrentDictionary<string, DateTimeOffset> _unreachable = new(StringComparer.Ordinal);

    public Task DispatchAsync(ConsumeContext context, IReadOnlyList<OutgoingPush> pushes) =>
        DispatchAsync(pushes, context, context.CancellationToken);

    /// <param name="publisher">Where broadcasts are published: the consume context in a consumer, else the bus.</param>
    public async Task DispatchAsync(IReadOnlyList<OutgoingPush> pushes, IPublishEndpoint? publisher, CancellationToken cancellationToken)
    {
        if (pushes.Count == 0)
            return;
        publisher ??= bus;
        var plan = router.Plan(pushes);
        var broadcast = plan.Broadcast;
        foreach (var (gateway, list) in plan.ByGateway)
        {
            if (!await TrySendAsync(gateway, list, cancellationToken))
                broadcast.AddRange(list);
        }
        foreach (var chunk in broadcast.Chunk(MaxPushesPerMessage))
            await publisher.Publish(new PushToUsers(chunk), cancellationToken);
    }

    /// <summary>Pushes to one gateway's connections, bypassing presence (a replay to a gateway just heard from).</summary>
    public async Task SendToGatewayAsync(IPublishEndpoint publisher, string gateway, IReadOnlyList<UserPush> pushes, CancellationToken cancellationToken)
    {
        if (pushes.Count > 0 && !await TrySendAsync(gateway, pushes, cancellationToken))
        {
            foreach (var chunk in pushes.Chunk(MaxPushesPerMessage))
                await publisher.Publish(new PushToUsers(chunk), cancellationToken);
        }
    }

    private async Task<bool> TrySendAsync(string gateway, IReadOnlyList<UserPush> pushes, CancellationToken cancellationToken)
    {
        if (_unreachable.TryGetValue(gateway, out var until) && until > time.GetUtcNow())
            return false;
        var first = _formOf.GetValueOrDefault(gateway);
        for (var form = first; form < _addressForms.Length; form++)
        {
            var address = string.Format(_addressForms[form], gateway);
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(SendTimeout);
                var endpoint = await bus.GetSendEndpoint(new Uri(address));
                foreach (var chunk in pushes.Chunk(MaxPushesPerMessage))
                    await endpoint.Send(new PushToUsers(chunk), timeout.Token);
                if (form != first)
                {
                    _formOf[gateway] = form;
                    logger.LogWarning("Gateway {GatewayId} is reachable at {Address}, not as {Setting} says; set it to {Form}",
                        gateway, address, $"{MessagingOptions.Section}:{nameof(MessagingOptions.GatewayAddress)}", _addressForms[form]);
                }
                return true;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogDebug(ex, "Could not send to gateway {GatewayId} at {Address}", gateway, address);
            }
        }
        // Publishing still reaches it, at the cost of reaching every gateway.
        _formOf.TryRemove(gateway, out _);
        _unreachable[gateway] = time.GetUtcNow() + FallbackFor;
        logger.LogError("Could not send to gateway {GatewayId} at any of {Addresses}; publishing its pushes to every gateway for {Seconds} s",
            gateway, string.Join(", ", _addressForms.Select(f => string.Format(f, gateway))), FallbackFor.TotalSeconds);
        return false;
    }
}
