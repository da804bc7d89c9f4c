using EasyIm.Contracts.Gateway;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Hosting.Presence;

/// <summary>
/// Delivers a service's <see cref="PushToUsers"/> by presence: each gateway that holds a push's users gets, at its own
/// endpoint, one message with the pushes for its users; a push for users presence cannot place (just started, or a
/// gateway's list not trusted after a lost beat) is published to every gateway; a push for users presence knows to be
/// offline is dropped (what it carries is in the user's update stream, fetched on reconnect).
/// <para>
/// A user whose connect presence has not applied yet looks offline, while their connect-time sync may already have
/// read the stream: so a dropped push is kept for a lease (<see cref="PresenceOptions.HeartbeatSeconds"/> times
/// <see cref="PresenceOptions.MissedHeartbeats"/>, 15 s) and, if it was dropped after the connection began, sent to
/// the gateway the user then appears on (<see cref="TakeDropped"/>, under the table's lock, so every push falls on
/// one side or the other). What was dropped before the connection began is the sync's, not sent again. The client
/// drops a duplicate by its position.
/// </para>
/// Messaging has its own (<c>PushDispatcher</c>), tied to its replay log; this one is for the others.
/// </summary>
public sealed class GatewayPushes(PresenceTable presence, PresenceOptions options, IBus bus, TimeProvider time, ILogger<GatewayPushes> logger)
{
    /// <summary>Bound on the pushes kept for users who looked offline, whatever the traffic.</summary>
    public const int MaxKept = 100_000;

    private readonly Dictionary<long, List<(UserPush Push, DateTimeOffset At)>> _dropped = [];
    private readonly Queue<(long UserId, long AtMs)> _droppedOrder = new();

    /// <summary>
    /// How a gateway's endpoint is addressed: EasyIm's gateways have temporary endpoints (their queue goes with the
    /// process). Never the durable <c>queue:</c> form, which would declare a queue for a gateway that died.
    /// </summary>
    public const string AddressForm = "exchange:gateway-{0}?temporary=true";
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Bounds a bus message's size whatever the batch (as messaging's).</summary>
    public const int MaxPushesPerMessage = GatewaySends.MaxPushesPerMessage;

    /// <summary>Routes <paramref name="message"/>; a send that fails is published instead. Throws only when publishing does.</summary>
    public async Task DeliverAsync(PushToUsers message, IPublishEndpoint publisher, CancellationToken cancellationToken)
    {
        var byGateway = new Dictionary<string, List<UserPush>>(StringComparer.Ordinal);
        var broadcast = new List<UserPush>();
        var gateways = new HashSet<string>(StringComparer.Ordinal);
        var usersThere = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        lock (presence.Sync)
        {
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
                            Keep(userId, For(push, [userId]));
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

    /// <summary>
    /// The pushes dropped for <paramref name="userId"/> within the lease and from <paramref name="connectedFrom"/> on,
    /// for the gateway they just appeared on: called under the table's lock, from its arrival callback.
    /// </summary>
    public List<UserPush> TakeDropped(long userId, DateTimeOffset connectedFrom)
    {
        lock (presence.Sync)
        {
            Prune(time.GetUtcNow().ToUnixTimeMilliseconds());
            return _dropped.Remove(userId, out var kept) ? kept.Where(k => k.At >= connectedFrom).Select(k => k.Push).ToList() : [];
        }
    }

    private void Keep(long userId, UserPush push)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        Prune(now);
        if (!_dropped.TryGetValue(userId, out var kept))
            _dropped[userId] = kept = [];
        kept.Add((push, DateTimeOffset.FromUnixTimeMilliseconds(now)));
        _droppedOrder.Enqueue((userId, now));
    }

    /// <summary>Forgets what is older than the lease, or past the bound, oldest first (each user's list is in the same order).</summary>
    private void Prune(long now)
    {
        var oldest = now - options.HeartbeatSeconds * options.MissedHeartbeats * 1000L;
        while (_droppedOrder.TryPeek(out var head) && (head.AtMs < oldest || _droppedOrder.Count > MaxKept))
        {
            _droppedOrder.Dequeue();
            if (_dropped.TryGetValue(head.UserId, out var kept))
            {
                kept.RemoveAt(0);
                if (kept.Count == 0)
                    _dropped.Remove(head.UserId);
            }
        }
    }

    private static UserPush For(UserPush push, List<long> users) =>
        push with { UserId = users[0], AlsoUserIds = users.Count > 1 ? users[1..] : null };

    private async Task<bool> TrySendAsync(string gateway, IReadOnlyList<UserPush> pushes, CancellationToken cancellationToken)
    {
        var address = string.Format(AddressForm, gateway);
        if (await GatewaySends.TrySendAsync(bus, address, pushes, SendTimeout, cancellationToken) is not { } error)
            return true;
        logger.LogWarning(error, "Could not send to gateway {GatewayId} at {Address}; publishing its pushes to every gateway", gateway, address);
        return false;
    }
}
