using EasyIm.Contracts.Gateway;
using Microsoft.Extensions.Logging;

namespace EasyIm.Hosting.Presence;

/// <summary>What presence can say about a user.</summary>
public enum PresenceAnswer
{
    /// <summary>Just started: not yet heard every live gateway, so it cannot know.</summary>
    WarmingUp,
    /// <summary>On no gateway it knows, but some gateway's list is not trusted (a lost beat, no full list yet): it may be there.</summary>
    Unknown,
    /// <summary>On no gateway, and every gateway's list is whole: offline.</summary>
    Offline,
    /// <summary>Connected to the gateways returned.</summary>
    Present,
}

/// <summary>What applying a presence event did: the receiver asks the gateway for a full list when <see cref="AskFullList"/>.</summary>
public readonly record struct PresenceApplied(bool AskFullList);

/// <summary>
/// Which gateways each user is connected to, kept from the gateways' beats (<see cref="GatewayPresenceReported"/>,
/// or the older <see cref="GatewayHeartbeat"/>) and their connects and disconnects. One writer (a presence consumer,
/// one message at a time) and any number of readers.
/// <para>
/// Leases are judged on the gateways' clocks: the table's clock is the newest stamp any gateway sent (never ahead of
/// this process's own clock, so one gateway's fast clock cannot expire the others), and a gateway is dropped when
/// that clock passes its last stamp by its lease. A backlog of presence events stops the clock with them, so it
/// never expires a live gateway; a gateway whose beats stop while others go on is dropped a lease after its last.
/// (When every gateway stops, nothing moves the clock and the last lists stay: nobody is connected to be pushed to.)
/// </para>
/// <para>
/// A beat counts within its gateway's epoch. A larger epoch is a restarted process: its list replaces the old one at
/// once. A smaller one is the dead process's late beat: ignored. Within an epoch, a beat after a gap is applied (each
/// entry is that user's state at the beat) but the gateway's list is no longer trusted (a lost beat's changes are
/// missing) until its next full list; the receiver asks for that one. While any gateway's list is untrusted a user
/// found nowhere is <see cref="PresenceAnswer.Unknown"/>, and pushes for them are broadcast.
/// </para>
/// <para>
/// A full list is built beside the live one and swapped in under <see cref="Sync"/>: readers wait for the swap,
/// never for the rebuild. Callers that must see presence and their own state change together (messaging's replay
/// log) hold <see cref="Sync"/> around both, and are called back under it for each user who arrived.
/// </para>
/// </summary>
public sealed class PresenceTable(PresenceOptions options, TimeProvider time, ILogger<PresenceTable> logger)
{
    /// <summary>
    /// Called under <see cref="Sync"/> for each user who appeared on a gateway, with the connection when a connect said
    /// it, and the gateway time from which they may have been there: the connect's stamp, or a beat period before the beat's.
    /// </summary>
    public delegate void ArrivedHandler(long userId, string gatewayId, string? connectionId, DateTimeOffset connectedFrom);

    private sealed class UserEntry
    {
        /// <summary>The connections its gateway announced (<see cref="UserConnected"/>) and has not closed.</summary>
        public HashSet<string> Connections { get; } = new(StringComparer.Ordinal);
        /// <summary>Put here by a beat: connections we may not know of, so only a later beat removes it.</summary>
        public bool Listed { get; set; }
        /// <summary>Gateway time of the newest event that put the user here; an older beat must not remove it.</summary>
        public DateTimeOffset Since { get; set; }
    }

    private sealed class GatewayState
    {
        /// <summary>0 until a beat with an epoch is heard (a connect, or an old gateway's heartbeat, has none).</summary>
        public long Epoch { get; set; }
        public long Beat { get; set; } = -1;
        public DateTimeOffset LastAt { get; set; }
        public TimeSpan Lease { get; set; }
        /// <summary>The list is whole: built from a full list and every delta since.</summary>
        public bool Trusted { get; set; }
        public long AskedAtMs { get; set; } = long.MinValue;
        /// <summary>Swapped whole by a full list; changed in place (under the lock) by deltas, connects and disconnects.</summary>
        public Dictionary<long, UserEntry> Users { get; set; } = [];
        public long Version { get; set; }
    }

    private readonly Dictionary<string, GatewayState> _gateways = new(StringComparer.Ordinal);
    private readonly List<string> _expired = [];
    private DateTimeOffset _clock = DateTimeOffset.MinValue;
    private long _firstHeardMs = -1;
    private bool _warmLogged;

    /// <summary>The lock every read and change takes (re-entrant).</summary>
    public Lock Sync { get; } = new();

    private TimeSpan DefaultLease => TimeSpan.FromSeconds(options.HeartbeatSeconds * options.MissedHeartbeats);
    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// True until presence has been heard for a beat period (plus a second) since its first event, so from every live
    /// gateway: until then nobody can be said to be offline.
    /// </summary>
    public bool WarmingUp
    {
        get
        {
            lock (Sync)
                return IsWarmingUp(NowMs);
        }
    }

    private bool IsWarmingUp(long nowMs) => _firstHeardMs < 0 || nowMs < _firstHeardMs + options.HeartbeatSeconds * 1000L + 1000;

    public int GatewayCount
    {
        get
        {
            lock (Sync)
                return _gateways.Count;
        }
    }

    /// <summary>Adds the gateways <paramref name="userId"/> is connected to, and says what is known.</summary>
    public PresenceAnswer Locate(long userId, ICollection<string> gateways)
    {
        lock (Sync)
        {
            if (IsWarmingUp(NowMs))
                return PresenceAnswer.WarmingUp;
            var found = false;
            var untrusted = false;
            foreach (var (id, gateway) in _gateways)
            {
                if (gateway.Users.ContainsKey(userId))
                {
                    gateways.Add(id);
                    found = true;
                }
                untrusted |= !gateway.Trusted;
            }
            return found ? PresenceAnswer.Present : untrusted ? PresenceAnswer.Unknown : PresenceAnswer.Offline;
        }
    }

    /// <summary>The gateways of <paramref name="userId"/> (empty when offline or not known).</summary>
    public IReadOnlyList<string> GatewaysOf(long userId)
    {
        var gateways = new List<string>();
        lock (Sync)
        {
            foreach (var (id, gateway) in _gateways)
            {
                if (gateway.Users.ContainsKey(userId))
                    gateways.Add(id);
            }
        }
        return gateways;
    }

    /// <summary>
    /// The gateways whose lease ended since the last call: a gateway that died sent no disconnect for its
    /// connections, so whatever keeps state per connection forgets them here.
    /// </summary>
    public IReadOnlyList<string> TakeExpiredGateways()
    {
        lock (Sync)
        {
            if (_expired.Count == 0)
                return [];
            var expired = _expired.ToList();
            _expired.Clear();
            return expired;
        }
    }

    public PresenceApplied Connected(UserConnected e, ArrivedHandler? arrived = null)
    {
        lock (Sync)
        {
            var gateway = Heard(e.GatewayId, e.At, DefaultLease);
            var user = Place(gateway, e.UserId, e.At, out var isNew);
            user.Connections.Add(e.ConnectionId);
            if (isNew)
                arrived?.Invoke(e.UserId, e.GatewayId, e.ConnectionId, e.At);
            return default;
        }
    }

    public PresenceApplied Disconnected(UserDisconnected e)
    {
        lock (Sync)
        {
            var gateway = Heard(e.GatewayId, e.At, DefaultLease);
            if (gateway.Users.TryGetValue(e.UserId, out var user))
            {
                user.Connections.Remove(e.ConnectionId);
                if (user.Connections.Count == 0 && !user.Listed)
                    gateway.Users.Remove(e.UserId);
            }
            return default;
        }
    }

    /// <summary>
    /// An older gateway's heartbeat: a full list, with no epoch and no count, so it never makes a gap. From a gateway
    /// that also sends presence beats (<see cref="PresenceOptions.LegacyHeartbeat"/> during an upgrade) it is only
    /// proof of life: the beats decide its list.
    /// </summary>
    public PresenceApplied Apply(GatewayHeartbeat e, ArrivedHandler? arrived = null)
    {
        lock (Sync)
        {
            if (_gateways.TryGetValue(e.GatewayId, out var known) && known.Epoch != 0)
                return default;
        }
        return ApplyFull(e.GatewayId, epoch: null, beat: null, e.At, DefaultLease, TimeSpan.FromSeconds(options.HeartbeatSeconds), e.ConnectedUsers, arrived);
    }

    public PresenceApplied Apply(GatewayPresenceReported e, ArrivedHandler? arrived = null)
    {
        var lease = TimeSpan.FromSeconds((long)Math.Max(1, e.EverySeconds) * options.MissedHeartbeats);
        if (e.Full)
            return ApplyFull(e.GatewayId, e.Epoch, e.Beat, e.At, lease, TimeSpan.FromSeconds(Math.Max(1, e.EverySeconds)), e.Joined ?? [], arrived);
        lock (Sync)
        {
            _gateways.TryGetValue(e.GatewayId, out var known);
            if (known is not null && known.Epoch > e.Epoch)
                return default;   // the dead process's late beat
            var gateway = Heard(e.GatewayId, e.At, lease);
            if (gateway.Epoch == e.Epoch && e.Beat <= gateway.Beat)
                return default;   // a duplicate: it renewed the lease, and its changes are in already
            var gap = gateway.Epoch != e.Epoch || e.Beat != gateway.Beat + 1;
            if (gateway.Epoch != 0 && gateway.Epoch != e.Epoch)
            {
                // A restart whose full list we missed: the old process's users are gone, except who connected since.
                logger.LogInformation("Gateway {GatewayId} restarted (epoch {Epoch}); its earlier users are dropped", e.GatewayId, e.Epoch);
                foreach (var (userId, user) in gateway.Users.Where(u => u.Value.Since < e.At).ToList())
                    gateway.Users.Remove(userId);
            }
            gateway.Epoch = e.Epoch;
            gateway.Beat = e.Beat;
            foreach (var userId in e.Joined ?? [])
            {
                var user = Place(gateway, userId, e.At, out var isNew);
                user.Listed = true;
                if (isNew)
                    arrived?.Invoke(userId, e.GatewayId, null, e.At - TimeSpan.FromSeconds(Math.Max(1, e.EverySeconds)));
            }
            foreach (var userId in e.Left ?? [])
            {
                if (gateway.Users.TryGetValue(userId, out var user) && user.Since < e.At)
                    gateway.Users.Remove(userId);
                else if (user is not null)
                    user.Listed = false;   // connected again after the beat: its connects and disconnects decide
            }
            if (gap)
            {
                if (gateway.Trusted)
                    logger.LogWarning("Lost track of gateway {GatewayId} at beat {Beat}; its list is not trusted until its next full list", e.GatewayId, e.Beat);
                gateway.Trusted = false;
                gateway.Version++;
                return new PresenceApplied(ShouldAsk(gateway));
            }
            gateway.Version++;
            return default;
        }
    }

    private PresenceApplied ApplyFull(string gatewayId, long? epoch, long? beat, DateTimeOffset at, TimeSpan lease, TimeSpan period, IReadOnlyList<long> listed, ArrivedHandler? arrived)
    {
        GatewayState? known;
        long version;
        lock (Sync)
        {
            _gateways.TryGetValue(gatewayId, out known);
            if (known is not null && epoch is { } e && (known.Epoch > e || (known.Epoch == e && beat <= known.Beat)))
            {
                // Late or repeated: still proof of life, but its list is older than what we have.
                Heard(gatewayId, at, lease);
                return default;
            }
            version = known?.Version ?? -1;
        }

        // Built outside the lock: only this table's one writer changes a gateway, so its list holds still meanwhile.
        var restarted = known is not null && epoch is { } newEpoch && known.Epoch != 0 && known.Epoch != newEpoch;
        var (users, arrivals) = Rebuild(known, restarted, at, listed);

        lock (Sync)
        {
            var gateway = Heard(gatewayId, at, lease);
            var unchanged = ReferenceEquals(gateway, known) ? gateway.Version == version : gateway.Users.Count == 0;
            if (!unchanged)
                (users, arrivals) = Rebuild(gateway, restarted, at, listed);   // changed meanwhile (expired, or a second writer): again, under the lock
            if (restarted)
                logger.LogInformation("Gateway {GatewayId} restarted (epoch {Epoch}): its new list replaces the old one", gatewayId, epoch);
            gateway.Users = users;
            gateway.Version++;
            if (epoch is { } ep)
            {
                gateway.Epoch = ep;
                gateway.Beat = beat ?? -1;
            }
            gateway.Trusted = true;
            gateway.AskedAtMs = long.MinValue;
            if (arrived is not null)
            {
                foreach (var userId in arrivals)
                    arrived(userId, gatewayId, null, at - period);
            }
            return default;
        }
    }

    /// <summary>
    /// The gateway's users after a full list taken at <paramref name="at"/>: the listed ones (keeping what is known of
    /// their connections, unless the gateway restarted), and the unlisted ones who connected after the list was taken.
    /// </summary>
    private static (Dictionary<long, UserEntry> Users, List<long> Arrivals) Rebuild(GatewayState? current, bool restarted, DateTimeOffset at, IReadOnlyList<long> listed)
    {
        var old = current?.Users ?? [];
        var users = new Dictionary<long, UserEntry>(listed.Count);
        var arrivals = new List<long>();
        foreach (var userId in listed)
        {
            if (users.ContainsKey(userId))
                continue;
            old.TryGetValue(userId, out var entry);
            if (entry is null || (restarted && entry.Since < at))
            {
                if (entry is null)
                    arrivals.Add(userId);
                entry = new UserEntry { Since = at };
            }
            entry.Listed = true;
            if (at > entry.Since)
                entry.Since = at;
            users[userId] = entry;
        }
        foreach (var (userId, entry) in old)
        {
            if (!users.ContainsKey(userId) && entry.Since >= at)
                users[userId] = entry;
        }
        return (users, arrivals);
    }

    private bool ShouldAsk(GatewayState gateway)
    {
        var now = NowMs;
        if (gateway.AskedAtMs != long.MinValue && now - gateway.AskedAtMs < gateway.Lease.TotalMilliseconds / options.MissedHeartbeats)
            return false;
        gateway.AskedAtMs = now;
        return true;
    }

    /// <summary>Proof of life from a gateway, stamped <paramref name="at"/> by it: advances the clock, renews its lease, expires the silent.</summary>
    private GatewayState Heard(string gatewayId, DateTimeOffset at, TimeSpan lease)
    {
        var now = time.GetUtcNow();
        if (_firstHeardMs < 0)
            _firstHeardMs = now.ToUnixTimeMilliseconds();
        var stamp = at > now ? now : at;
        if (stamp > _clock)
            _clock = stamp;
        if (!_gateways.TryGetValue(gatewayId, out var gateway))
        {
            _gateways[gatewayId] = gateway = new GatewayState { LastAt = at };
            logger.LogInformation("Gateway {GatewayId} is live", gatewayId);
        }
        if (at > gateway.LastAt)
            gateway.LastAt = at;
        gateway.Lease = lease;
        Expire();
        if (!_warmLogged && !IsWarmingUp(now.ToUnixTimeMilliseconds()))
        {
            _warmLogged = true;
            logger.LogInformation("Presence is warm: pushes go only to the gateways of their users ({Gateways} gateways live)", _gateways.Count);
        }
        return gateway;
    }

    private void Expire()
    {
        List<string>? dead = null;
        foreach (var (id, gateway) in _gateways)
        {
            if (_clock - gateway.LastAt > gateway.Lease)
                (dead ??= []).Add(id);
        }
        foreach (var id in dead ?? [])
        {
            var gateway = _gateways[id];
            _gateways.Remove(id);
            _expired.Add(id);
            logger.LogWarning("Gateway {GatewayId} missed {Beats} beats ({Lease} s of the gateways' time); its {Users} users count as offline until it is heard again",
                id, options.MissedHeartbeats, gateway.Lease.TotalSeconds, gateway.Users.Count);
        }
    }

    private static UserEntry Place(GatewayState gateway, long userId, DateTimeOffset at, out bool isNew)
    {
        isNew = !gateway.Users.TryGetValue(userId, out var user);
        if (user is null)
            gateway.Users[userId] = user = new UserEntry { Since = at };
        else if (at > user.Since)
            user.Since = at;
        return user;
    }
}
