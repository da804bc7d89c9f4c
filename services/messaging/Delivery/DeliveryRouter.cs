using EasyIm.Contracts.Gateway;
using EasyIm.Hosting.Presence;
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
/// Routing by presence (<see cref="PresenceTable"/>: which gateways each user has live connections on), and the replay
/// log that closes the race between routing and presence. One per messaging replica: every replica hears every
/// <see cref="UserConnected"/>, <see cref="UserDisconnected"/> and gateway beat on its own temporary endpoint.
/// <para>
/// A push goes to its user's gateways. A user presence says is offline gets nothing (their messages are in their
/// next connect's sync); a user presence cannot place (just started, or a gateway's list is not trusted after a lost
/// beat) gets the push published to every gateway.
/// </para>
/// <para>
/// The no-gap invariant: a message stored while its recipient's connection is live is pushed to it or is
/// in its connect-time sync. The sync (on one replica) reads the database after the gateway published
/// <see cref="UserConnected"/>; a message committed after that read is routed by some replica R after the
/// commit. If R already knew the connection, it pushes there. If not, R applies that
/// <see cref="UserConnected"/> later than it routed the message; so R remembers, for
/// <see cref="MessagingOptions.ReplayWindowSeconds"/>, where it routed each stored message, and when a user
/// appears on a gateway it returns the messages it routed to that user elsewhere (or nowhere) meanwhile, for
/// the caller to push to the new connection. Routing and applying presence share one lock (the table's
/// <see cref="PresenceTable.Sync"/>), so every message falls on one side or the other; a full list is built
/// outside it and only swapped in under it. The client drops the duplicates this may cause by id.
/// </para>
/// </summary>
public sealed class DeliveryRouter(MessagingOptions options, PresenceTable presence, TimeProvider time, ILogger<DeliveryRouter> logger)
{
    private readonly record struct RouteRecord(string ConversationId, long Seq, string[] Gateways);

    private readonly Dictionary<long, Queue<RouteRecord>> _recent = [];
    private readonly Queue<(long UserId, long AtMs)> _recentOrder = new();
    private readonly HashSet<string> _disconnected = new(StringComparer.Ordinal);
    private readonly Queue<(string ConnectionId, long AtMs)> _disconnectedOrder = new();
    private long _lastOverflowWarningMs = long.MinValue / 2;

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    public PresenceTable Presence => presence;

    /// <summary>True until presence has heard a full beat period since its first event: until then pushes go to every gateway.</summary>
    public bool WarmingUp => presence.WarmingUp;

    public IReadOnlyCollection<string> GatewaysOf(long userId) => presence.GatewaysOf(userId);

    /// <summary>
    /// Decides where each push goes, and remembers where stored messages went (for replay). A push for
    /// several users (<see cref="UserPush.AlsoUserIds"/>) is split by gateway: each gateway gets one push
    /// for the users it holds.
    /// </summary>
    public RoutePlan Plan(IReadOnlyList<OutgoingPush> pushes)
    {
        var plan = new RoutePlan();
        lock (presence.Sync)
        {
            var now = NowMs;
            if (presence.WarmingUp)
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
                    var present = presence.GatewaysOf(push.UserId);
                    if (knownGateway is not null)
                        Add(plan, knownGateway, push);
                    else if (present.Count > 0)
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
                if (!TryTargets(push.UserId, knownGateway, except, out var targets))
                {
                    // Presence cannot place the user (a gateway's list is not trusted): every gateway gets it.
                    plan.Broadcast.Add(push);
                    continue;
                }
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

    /// <summary>The user's gateways (with the one known to hold the connection, without the one already covered); false when presence cannot say.</summary>
    private bool TryTargets(long userId, string? knownGateway, string? except, out HashSet<string> targets)
    {
        targets = new HashSet<string>(StringComparer.Ordinal);
        var answer = presence.Locate(userId, targets);
        if (answer is PresenceAnswer.Unknown or PresenceAnswer.WarmingUp)
            return false;
        if (knownGateway is not null)
            targets.Add(knownGateway);
        if (except is not null)
            targets.Remove(except);
        return true;
    }

    private static string[] Covered(HashSet<string> targets, string? except) =>
        except is null ? [.. targets] : [.. targets, except];

    private void PlanForMany(RoutePlan plan, UserPush push, IReadOnlyList<long> also, string? knownGateway, string? except, long now)
    {
        var byGateway = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        var replayable = IsReplayable(push.Message);
        List<long>? unknown = null;
        for (var i = -1; i < also.Count; i++)
        {
            var userId = i < 0 ? push.UserId : also[i];
            if (!TryTargets(userId, knownGateway, except, out var targets))
            {
                (unknown ??= []).Add(userId);
                continue;
            }
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
        var positions = PositionsByUser(push);
        if (unknown is not null)
            plan.Broadcast.Add(For(push, unknown, positions));
        foreach (var (gateway, users) in byGateway)
            Add(plan, gateway, For(push, users, positions));
    }

    /// <summary>The push for <paramref name="users"/> only, each with their own stream position.</summary>
    private static UserPush For(UserPush push, List<long> users, Dictionary<long, long>? positions) =>
        push with
        {
            UserId = users[0],
            AlsoUserIds = users.Count > 1 ? users[1..] : null,
            Positions = positions is null ? null : users.Select(u => positions.GetValueOrDefault(u)).ToArray(),
        };

    /// <summary>Each user's position in a push's <see cref="UserPush.Positions"/> (given in the order UserId, then AlsoUserIds), or null.</summary>
    private static Dictionary<long, long>? PositionsByUser(params UserPush[] pushes)
    {
        Dictionary<long, long>? byUser = null;
        foreach (var push in pushes)
        {
            if (push.Positions is not { } positions)
                continue;
            byUser ??= [];
            for (var i = 0; i < positions.Count; i++)
            {
                var user = i == 0 ? push.UserId : push.AlsoUserIds is { } also && i - 1 < also.Count ? also[i - 1] : 0;
                if (user != 0 && positions[i] > 0)
                    byUser[user] = positions[i];
            }
        }
        return byUser;
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
        var also = users.Distinct().ToList();
        var positions = PositionsByUser(first, second);
        folded = first with
        {
            AlsoUserIds = also,
            Positions = positions is null ? null : [positions.GetValueOrDefault(first.UserId), .. also.Select(u => positions.GetValueOrDefault(u))],
        };
        return true;
    }

    private static bool IsReplayable(WireMessage message) =>
        message.ConversationSeq > 0 && message.MsgType is >= 0 and <= 3 && message.Status != MessageStatus.Fail;

    /// <summary>Applies a connect; returns what was routed to the user but not to this gateway in the replay window.</summary>
    public IReadOnlyList<ReplayRequest> Connected(UserConnected e)
    {
        lock (presence.Sync)
        {
            presence.Connected(e);
            return Replay(e.UserId, e.GatewayId, e.ConnectionId, NowMs);
        }
    }

    public void Disconnected(UserDisconnected e)
    {
        lock (presence.Sync)
        {
            RememberDisconnected(e.ConnectionId, NowMs);
            presence.Disconnected(e);
        }
    }

    /// <summary>
    /// True when this replica heard, within the replay window, that the connection closed: a sync pushing
    /// page after page for it stops (a connection it has not heard of may simply not be announced yet).
    /// </summary>
    public bool WasDisconnected(string connectionId)
    {
        lock (presence.Sync)
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
    /// Applies a gateway's beat. Users who appeared on it (a delta's joined, a full list's newcomers) get what was
    /// routed elsewhere meanwhile: the replays are worked out under the lock the swap takes, and returned.
    /// </summary>
    public (IReadOnlyList<ReplayRequest> Replays, bool AskFullList) Beat(GatewayPresenceReported e)
    {
        var replays = new List<ReplayRequest>();
        var applied = presence.Apply(e, (userId, gatewayId, _, _) => replays.AddRange(Replay(userId, gatewayId, null, NowMs)));
        return (replays, applied.AskFullList);
    }

    /// <summary>An older gateway's heartbeat (a full list), as <see cref="Beat"/>.</summary>
    public IReadOnlyList<ReplayRequest> Heartbeat(GatewayHeartbeat e)
    {
        var replays = new List<ReplayRequest>();
        presence.Apply(e, (userId, gatewayId, _, _) => replays.AddRange(Replay(userId, gatewayId, null, NowMs)));
        return replays;
    }

    /// <summary>
    /// The gateways presence dropped (lease ended) since the last call: a gateway that died sent no
    /// disconnect for its connections, so whatever else keeps state per connection forgets them here.
    /// </summary>
    public IReadOnlyList<string> TakeExpiredGateways() => presence.TakeExpiredGateways();

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
