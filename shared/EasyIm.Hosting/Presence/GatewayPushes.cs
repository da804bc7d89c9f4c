using EasyIm.Contracts.Gateway;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Hosting.Presence;

/// <summary>
/// Delivers a service's <see cref="PushToUsers"/> by presence: each gateway that holds a push's users gets, at its own
/// endpoint, one message with the pushes for its users; a push for users presence cannot place (just started, or a
/// gateway's list not trusted after a lost beat) is published to every gateway; a push for users presence knows to be
/// offline is dropped (what it carries is in the user's update stream, fetched on reconnect).
/// Messaging has its own (<c>PushDispatcher</c>), tied to its replay log; this one is for the others.
/// </summary>
public sealed class GatewayPushes(PresenceTable presence, IBus bus, ILogger<GatewayPushes> logger)
{
    /// <summary>
    /// How a gateway's endpoint is addressed: EasyIm's gateways have temporary endpoints (their queue goes with the
    /// process). Never the durable <c>queue:</c> form, which would declare a queue for a gateway that died.
    /// </summary>
    public const string AddressForm = "exchange:gateway-{0}?temporary=true";
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Bounds a bus message's size whatever the batch (as messaging's).</summary>
    public const int MaxPushesPerMessage = 1000;

    /// <summary>Routes <paramref name="message"/>; a send that fails is published instead. Throws only when publishing does.</summary>
    public async Task DeliverAsync(PushToUsers message, IPublishEndpoint publisher, CancellationToken cancellationToken)
    {
        var byGateway = new Dictionary<string, List<UserPush>>(StringComparer.Ordinal);
        var broadcast = new List<UserPush>();
        var gateways = new HashSet<string>(StringComparer.Ordinal);
        var usersThere = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        foreach (var push in message.Pushes)
        {
            List<long>? unknown = null;
            usersThere.Clear();
            for (var i = -1; i < (push.AlsoUserIds?.Count ?? 0); i++)
            {
                var userId = i < 0 ? push.UserId : push.AlsoUserIds![i];
                gateways.Clear();
                switch (presence.Locate(userId, gateways))
                {
                    case PresenceAnswer.Present:
                        foreach (var gateway in gateways)
                        {
                            if (!usersThere.TryGetValue(gateway, out var users))
                                usersThere[gateway] = users = [];
                            users.Add(userId);
                        }
                        break;
                    case PresenceAnswer.Offline:
                        break;
                    default:
                        (unknown ??= []).Add(userId);
                        break;
                }
            }
            foreach (var (gateway, users) in usersThere)
            {
                if (!byGateway.TryGetValue(gateway, out var list))
                    byGateway[gateway] = list = [];
                list.Add(For(push, users));
            }
            if (unknown is not null)
                broadcast.Add(For(push, unknown));
        }
        foreach (var (gateway, pushes) in byGateway)
        {
            if (!await TrySendAsync(gateway, pushes, cancellationToken))
                broadcast.AddRange(pushes);
        }
        foreach (var chunk in broadcast.Chunk(MaxPushesPerMessage))
            await publisher.Publish(new PushToUsers(chunk), cancellationToken);
    }

    /// <summary>Pushes for connections on one known gateway (a connect's own), published when the send fails.</summary>
    public async Task SendToGatewayAsync(string gateway, IReadOnlyList<UserPush> pushes, IPublishEndpoint publisher, CancellationToken cancellationToken)
    {
        if (pushes.Count == 0 || await TrySendAsync(gateway, pushes, cancellationToken))
            return;
        foreach (var chunk in pushes.Chunk(MaxPushesPerMessage))
            await publisher.Publish(new PushToUsers(chunk), cancellationToken);
    }

    private static UserPush For(UserPush push, List<long> users) =>
        push with { UserId = users[0], AlsoUserIds = users.Count > 1 ? users[1..] : null };

    private async Task<bool> TrySendAsync(string gateway, IReadOnlyList<UserPush> pushes, CancellationToken cancellationToken)
    {
        var address = string.Format(AddressForm, gateway);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(SendTimeout);
            var endpoint = await bus.GetSendEndpoint(new Uri(address));
            foreach (var chunk in pushes.Chunk(MaxPushesPerMessage))
                await endpoint.Send(new PushToUsers(chunk), timeout.Token);
            return true;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Could not send to gateway {GatewayId} at {Address}; publishing its pushes to every gateway", gateway, address);
            return false;
        }
    }
}
