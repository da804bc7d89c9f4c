using EasyIm.Contracts.Gateway;
using EasyIm.Messaging.Data;
using Microsoft.Extensions.Logging;

namespace EasyIm.Messaging.Delivery;

/// <summary>
/// A push and, when known, the gateway holding the connection it is for. <paramref name="Except"/> is a
/// gateway the push must not go to because another push already covers the user there (a sender's own
/// gateway, which gets the SENT ack with the copies for the sender's other connections on it).
/// </summary>
public readonly record struct OutgoingPush(UserPush Push, string? Gateway = null, string? Except = null);

/// <summary>Where the pushes of one batch go: to every gateway (published), or to named gateways (sent).</summary>
public sealed class RoutePlan
{
    public List<UserPush> Broadcast { get; } = [];
    public Dictionary<string, List<UserPush>> ByGateway { get; } = new(StringComparer.Ordinal);
    /// <summary>Pushes for users with no live connection: they get the messages on their next connect's sync.</summary>
    public int Dropped { get; internal set; }
}

/// <summary>Stored messages to push again to a connection (or, without one, to the user's connections on a gateway).</summary>
public sealed record ReplayRequest(long UserId, string GatewayId, string? ConnectionId, IReadOnlyList<(string ConversationId, long Seq)> Messages);

/// <summary>
/// Presence (which gateways each user has live connections on) and the routing built on it. One per
/// messaging replica: every replica hears every <see cref="UserConnected"/>, <see cref="UserDisconnected"/>
/// and <see cref="GatewayHeartbeat"/> on its own temporary endpoint.
/// <para>
/// Presence is soft state with leases: a gateway silent for <see cref="MessagingOptions.MissedHeartbeats"/>
/// heartbeats is dropped with its users, whose messages then wait for their next connect. Until a replica
/// has heard a full heartbeat period (just started), it cannot know who is where, so it publishes
/// every push to every gateway.
/// </para>
/// <para>
/// The no-gap invariant: a message stored while its recipient's connection is live is pushed to it or is
/// in its connect-time sync. The sync (on one replica) reads the database after the gateway published
/// <see cref="UserConnected"/>; a message committed after that read is routed by some replica R after the
/// commit. If R already knew the connection, it pushes there. If not, R applies that
/// <see cref="UserConnected"/> later than it routed the message; so R remembers, for
/// <see cref="MessagingOptions.ReplayWindowSeconds"/>, where it routed each stored message, and when a user
/// appears on a gateway it returns the messages it routed to that user elsewhere (or nowhere) meanwhile, for
/// the caller to push to the new connection. Routing and applying presence share one lock, so every
/// message falls on one side or the other. The client drops the duplicates this may cause by id.
/// </para>
/// </summary>
public sealed class DeliveryRouter(MessagingOptions options, TimeProvider time, ILogger<DeliveryRouter> logger)
{
    private sealed class UserAtGateway
    {
        public HashSet<string> Connections { get; } = new(StringComparer.Ordinal);
        /// <summary>Listed by a heartbeat: connections we may not know of, so only a later heartbeat removes it.</summary>
        public bool Listed { get; set; }
        /// <summary>Gateway time of the newest event that put the user here; an older heartbeat must not remove it.</summary>
        public DateTimeOffset Since { get; set; }
    }

    private sealed class GatewayPresence
    {
        public Dictionary<long, UserAtGateway> Users { get; } = [];
    }

    private readonly record struct RouteRecord(string ConversationId, long Seq, string[] Gateways);

    private readonly Lock _lock = new();
    private readonly LeaseTable<GatewayPresence> _gateways = new(() => (long)options.HeartbeatSeconds * options.MissedHeartbeats * 1000);
    private readonly Dictionary<long, HashSet<string>> _userGateways = [];
    private readonly Dictionary<long, Queue<RouteRecord>> _recent = [];
    private readonly Queue<(long UserId, long AtMs)> _recentOrder = new();
    private readonly HashSet<string> _disconnected = new(StringComparer.Ordinal);
    private readonly Queue<(string ConnectionId, long AtMs)> _disconnectedOrder = new();
    private long _firstHeardMs = -1;
    private bool _warmLogged;
    // Gateways whose lease ended since TakeExpiredGateways was last asked (what else forgets their connections).
    private readonly List<string> _expiredGateways = [];
    private long _lastOverflowWarningMs = long.MinValue / 2;

    private long WarmUpMs => (long)options.HeartbeatSeconds * 1000 + 1000;
    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// True until this replica has heard presence for a full heartbeat period since its first presence
    /// event (so from every live gateway): until then pushes go to every gateway.
    /// </summary>
    public bool WarmingUp
    {
        get
        {
            lock (_lock)
                return IsWarmingUp(NowMs);
        }
    }

    private bool IsWarmingUp(long now) => _firstHeardMs < 0 || now < _firstHeardMs + WarmUpMs;

    public IReadOnlyCollection<string> GatewaysOf(long userId)
    {
        lock (_lock)
        {
            Expire(NowMs);
            return _userGateways.TryGetValue(userId, out var set) ? [.. set] : [];
        }
    }

    /// <summary>
    /// Decides where each push goes, and remembers where stored messages went (for replay). A push for
    /// several users (<see cref="UserPush.AlsoUserIds"/>) is split by gateway: each gateway gets one push
    /// for the users it holds.
    /// </summary>
    public RoutePlan Plan(IReadOnlyList<OutgoingPush> pushes)
    {
        var plan = new RoutePlan();
        lock (_lock)
        {
            var now = NowMs;
            Expire(now);
            if (IsWarmingUp(now))
            {
                plan.Broadcast.AddRange(pushes.Select(p => p.Push));
                return plan;
            }
            foreach (var (push, knownGateway, except) in pushes)
            {
                if (push.OnlyConnectionId is not null || push.AckConnectionId is not null)
                {
                    // One connection (with, for an ack, the sender's other connections beside it): its
                    // gateway when known, else wherever the user is, else everywhere (presence may lag
                    // behind a connection that has already spoken).
                    _userGateways.TryGetValue(push.UserId, out var present);
                    if (knownGateway is not null)
                        Add(plan, knownGateway, push);
                    else if (present is { Count: > 0 })
                        foreach (var gateway in present)
                            Add(plan, gateway, push);
                    else
                        plan.Broadcast.Add(push);
                    continue;
                }
                if (push.AlsoUserIds is { Count: > 0 } also)
                {
                    PlanForMany(plan, push, also, knownGateway, except, now);
                    continue;
                }
                var targets = TargetsOf(push.UserId, knownGateway, except);
                foreach (var gateway in targets)
                    Add(plan, gateway, push);
                if (targets.Count == 0 && except is null)
                    plan.Dropped++;
                if (IsReplayable(push.Message))
                    Remember(push.UserId, push.Message, Covered(targets, except), now);
            }
        }
        return plan;
    }

    private HashSet<string> TargetsOf(long userId, string? knownGateway, string? except)
    {
        var targets = _userGateways.TryGetValue(userId, out var present)
            ? new HashSet<string>(present, StringComparer.Ordinal)
            : new HashSet<string>(StringComparer.Ordinal);
        if (knownGateway is not null)
            targets.Add(knownGateway);
        if (except is not null)
            targets.Remove(except);
        return targets;
    }

    private static string[] Covered(HashSet<string> targets, string? except) =>
        except is null ? [.. targets] : [.. targets, except];

    private void PlanForMany(RoutePlan plan, UserPush push, IReadOnlyList<long> also, string? knownGateway, string? except, long now)
    {
        var byGateway = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        var replayable = IsReplayable(push.Message);
        for (var i = -1; i < also.Count; i++)
        {
            var userId = i < 0 ? push.UserId : also[i];
            var targets = TargetsOf(userId, knownGateway, except);
            foreach (var gateway in targets)
            {
                if (!byGateway.TryGetValue(gateway, out var users))
                    byGateway[gateway] = users = [];
                users.Add(userId);
            }
            if (targets.Count == 0 && except is null)
                plan.Dropped++;
            if (replayable)
                Remember(userId, push.Message, Covered(targets, except), now);
        }
        foreach (var (gateway, users) in byGateway)
            Add(plan, gateway, push with { UserId = users[0], AlsoUserIds = users.Count > 1 ? users[1..] : null });
    }

    /// <summary>
    /// Adds a push to a gateway's list, folded into the one before it when both carry the same stored
    /// message (a sender's ack and its recipient on one gateway, say): one copy of the message, for
    /// both users. Their connection-specific fields apply to one connection each, so they combine as long
    /// as only one of the two has any, and neither is for one connection only or a sync.
    /// </summary>
    private static void Add(RoutePlan plan, string gateway, UserPush push)
    {
        if (!plan.ByGateway.TryGetValue(gateway, out var list))
            plan.ByGateway[gateway] = list = [];
        if (list.Count > 0 && TryFold(list[^1], push, out var folded))
            list[^1] = folded;
        else
            list.Add(push);
    }

    private static bool TryFold(UserPush a, UserPush b, out UserPush folded)
    {
        folded = a;
        if (!ReferenceEquals(a.Message, b.Message) || a.OnlyConnectionId is not null || b.OnlyConnectionId is not null || a.Sync || b.Sync)
            return false;
        var aSpecific = a.SkipConnectionId is not null || a.AckConnectionId is not null;
        var bSpecific = b.SkipConnectionId is not null || b.AckConnectionId is not null;
        if (aSpecific && bSpecific)
            return false;
        var (first, second) = bSpecific ? (b, a) : (a, b);
        var users = new List<long>((first.AlsoUserIds?.Count ?? 0) + 1 + (second.AlsoUserIds?.Count ?? 0));
        users.AddRange(first.AlsoUserIds ?? []);
        users.Add(second.UserId);
        users.AddRange(second.AlsoUserIds ?? []);
        users.Remove(first.UserId);
        folded = first with { AlsoUserIds = users.Distinct().ToList() };
        return true;
    }

    private static bool IsReplayable(WireMessage message) =>
        message.ConversationSeq > 0 && message.MsgType is >= 0 and <= 3 && message.Status != MessageStatus.Fail;

    /// <summary>Applies a connect; returns what was routed to the user but not to this gateway in the replay window.</summary>
    public IReadOnlyList<ReplayRequest> Connected(UserConnected e)
    {
        lock (_lock)
        {
            var now = Heard(e.GatewayId);
            var user = Place(e.GatewayId, e.UserId, e.At);
            user.Connections.Add(e.ConnectionId);
            return Replay(e.UserId, e.GatewayId, e.ConnectionId, now);
        }
    }

    public void Disconnected(UserDisconnected e)
    {
        lock (_lock)
        {
            var now = Heard(e.GatewayId);
            RememberDisconnected(e.ConnectionId, now);
            var gateway = _gateways[e.GatewayId];
            if (!gateway.Users.TryGetValue(e.UserId, out var user))
                return;
            user.Connections.Remove(e.ConnectionId);
            if (user.Connections.Count == 0 && !user.Listed)
                Remove(e.GatewayId, gateway, e.UserId);
        }
    }

    /// <summary>
    /// True when this replica heard, within the replay window, that the connection closed: a sync pushing
    /// page after page for it stops (a connection it has not heard of may simply not be announced yet).
    /// </summary>
    public bool WasDisconnected(string connectionId)
    {
        lock (_lock)
            return _disconnected.Contains(connectionId);
    }

    private void RememberDisconnected(string connectionId, long nowMs)
    {
        while (_disconnectedOrder.TryPeek(out var oldest) && (oldest.AtMs < nowMs - options.ReplayWindowSeconds * 1000L || _disconnectedOrder.Count >= options.MaxReplayEntries))
        {
            _disconnectedOrder.Dequeue();
            _disconnected.Remove(oldest.ConnectionId);
        }
        if (_disconnected.Add(connectionId))
            _disconnectedOrder.Enqueue((connectionId, nowMs));
    }

    /// <summary>
    /// Renews the gateway's lease and reconciles its users with the list it sent: users it no longer
    /// lists (and who did not connect after it was taken) leave; users we did not know of arrive, and
    /// get what was routed elsewhere meanwhile.
    /// </summary>
    public IReadOnlyList<ReplayRequest> Heartbeat(GatewayHeartbeat e)
    {
        lock (_lock)
        {
            var now = Heard(e.GatewayId);
            var gateway = _gateways[e.GatewayId];
            var listed = e.ConnectedUsers.ToHashSet();
            foreach (var (userId, user) in gateway.Users.ToList())
            {
                if (!listed.Contains(userId) && user.Since < e.At)
                    Remove(e.GatewayId, gateway, userId);
            }
            var replays = new List<ReplayRequest>();
            foreach (var userId in listed)
            {
                var known = gateway.Users.ContainsKey(userId);
                var user = Place(e.GatewayId, userId, e.At);
                user.Listed = true;
                if (!known)
                    replays.AddRange(Replay(userId, e.GatewayId, null, now));
            }
            return replays;
        }
    }

    private long Heard(string gatewayId)
    {
        var now = NowMs;
        if (_firstHeardMs < 0)
            _firstHeardMs = now;
        Expire(now);
        if (_gateways.Renew(gatewayId, now, () => new GatewayPresence(), out _))
            logger.LogInformation("Gateway {GatewayId} is live", gatewayId);
        if (!_warmLogged && !IsWarmingUp(now))
        {
            _warmLogged = true;
            logger.LogInformation("Presence is warm: pushes go only to the gateways of their users ({Gateways} gateways live)", _gateways.Count);
        }
        return now;
    }

    private UserAtGateway Place(string gatewayId, long userId, DateTimeOffset at)
    {
        var gateway = _gateways[gatewayId];
        if (!gateway.Users.TryGetValue(userId, out var user))
        {
            gateway.Users[userId] = user = new UserAtGateway { Since = at };
            if (!_userGateways.TryGetValue(userId, out var set))
                _userGateways[userId] = set = new HashSet<string>(StringComparer.Ordinal);
            set.Add(gatewayId);
        }
        else if (at > user.Since)
        {
            user.Since = at;
        }
        return user;
    }

    private void Remove(string gatewayId, GatewayPresence gateway, long userId)
    {
        gateway.Users.Remove(userId);
        if (_userGateways.TryGetValue(userId, out var set) && set.Remove(gatewayId) && set.Count == 0)
            _userGateways.Remove(userId);
    }

    private void Expire(long now)
    {
        foreach (var (gatewayId, gateway) in _gateways.Expire(now))
        {
            logger.LogWarning("Gateway {GatewayId} missed {Beats} heartbeats; its {Users} users count as offline until it is heard again",
                gatewayId, options.MissedHeartbeats, gateway.Users.Count);
            foreach (var userId in gateway.Users.Keys.ToList())
                Remove(gatewayId, gateway, userId);
            _expiredGateways.Add(gatewayId);
        }
        Prune(now);
    }

    /// <summary>
    /// The gateways presence dropped (lease ended) since the last call: a gateway that died sent no
    /// disconnect for its connections, so whatever else keeps state per connection forgets them here.
    /// </summary>
    public IReadOnlyList<string> TakeExpiredGateways()
    {
        lock (_lock)
        {
            Expire(NowMs);
            if (_expiredGateways.Count == 0)
                return [];
            var expired = _expiredGateways.ToList();
            _expiredGateways.Clear();
            return expired;
        }
    }

    private void Remember(long userId, WireMessage message, string[] gateways, long now)
    {
        if (!_recent.TryGetValue(userId, out var queue))
            _recent[userId] = queue = new Queue<RouteRecord>();
        queue.Enqueue(new RouteRecord(message.ConversationId ?? "", (long)message.ConversationSeq, gateways));
        _recentOrder.Enqueue((userId, now));
        Prune(now);
    }

    /// <summary>Forgets routes older than the window, oldest first (each user's queue is in the same order as the global one).</summary>
    private void Prune(long now)
    {
        var oldest = now - options.ReplayWindowSeconds * 1000L;
        var overflow = false;
        while (_recentOrder.TryPeek(out var head) && (head.AtMs < oldest || _recentOrder.Count > options.MaxReplayEntries))
        {
            overflow |= head.AtMs >= oldest;
            _recentOrder.Dequeue();
            var queue = _recent[head.UserId];
            queue.Dequeue();
            if (queue.Count == 0)
                _recent.Remove(head.UserId);
        }
        // Once a minute at most: when it is full, it is full on every route.
        if (overflow && now - _lastOverflowWarningMs >= 60_000)
        {
            _lastOverflowWarningMs = now;
            logger.LogWarning("Replay log full ({Max} routes): forgot routes younger than the replay window", options.MaxReplayEntries);
        }
    }

    private IReadOnlyList<ReplayRequest> Replay(long userId, string gatewayId, string? connectionId, long now)
    {
        Prune(now);
        if (!_recent.TryGetValue(userId, out var queue))
            return [];
        var missed = queue.Where(r => !r.Gateways.Contains(gatewayId, StringComparer.Ordinal))
            .Select(r => (r.ConversationId, r.Seq))
            .Distinct()
            .ToList();
        return missed.Count == 0 ? [] : [new ReplayRequest(userId, gatewayId, connectionId, missed)];
    }
}
