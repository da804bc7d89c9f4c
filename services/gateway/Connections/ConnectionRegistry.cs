using System.Collections.Concurrent;
using System.Collections.Immutable;
using EasyIm.Hosting;

namespace EasyIm.Gateway.Connections;

/// <summary>What became of a handshake's connection at the registry.</summary>
public enum Admission
{
    Added,
    /// <summary>The user's tokens were revoked above the session's version, or its login session was, meanwhile.</summary>
    Revoked,
    /// <summary>The user has <see cref="GatewayOptions.MaxConnectionsPerUser"/> live connections here, none silent long enough to give way.</summary>
    OverCap,
}

/// <summary>
/// The connections of this gateway: every open one, and the authenticated ones by user, at most
/// <see cref="GatewayOptions.MaxConnectionsPerUser"/> each. Lookups (every push) read immutable
/// snapshots without locking; the rarer changes take a lock.
/// </summary>
public sealed class ConnectionRegistry(GatewayOptions options, TimeProvider time)
{
    /// <summary>How long a revocation is remembered, to refuse a handshake that was validated just before it.</summary>
    public static readonly TimeSpan RevocationMemory = TimeSpan.FromMinutes(2);

    private readonly ConcurrentDictionary<string, LongConnection> _open = new();
    private readonly ConcurrentDictionary<long, ImmutableArray<LongConnection>> _byUser = new();
    private readonly ConcurrentDictionary<long, (int Version, DateTimeOffset At)> _revoked = new();
    private readonly ConcurrentDictionary<long, DateTimeOffset> _revokedSessions = new();
    private readonly Lock _lock = new();

    public int OpenCount => _open.Count;

    /// <summary>Every open connection, read as it goes: no snapshot is copied and no lock taken (it runs every second).</summary>
    public IEnumerable<LongConnection> Open
    {
        get
        {
            foreach (var (_, connection) in _open)
                yield return connection;
        }
    }

    public void Opened(LongConnection connection)
    {
        _open[connection.Id] = connection;
        EasyImTelemetry.Connections.Add(1, new KeyValuePair<string, object?>("transport", connection.Transport));
    }

    /// <summary>
    /// Adds an authenticated connection under its user. Returns false (and adds nothing) when the
    /// user's tokens were revoked above the session's version, or its login session was revoked, meanwhile,
    /// or the user is at the cap; otherwise <paramref name="replaced"/> holds the connections it replaces, now removed.
    /// </summary>
    public bool TryAdd(LongConnection connection, out IReadOnlyList<LongConnection> replaced) =>
        Admit(connection, null, out replaced) == Admission.Added;

    /// <summary>
    /// Adds an authenticated connection under its user, unless the user's tokens (or its login session) were
    /// revoked meanwhile or the user is at the cap. <paramref name="replaced"/> holds the live
    /// connections it replaces, now removed (the caller closes them): those of the same device, and at the
    /// cap the user's longest-silent connection when it has been silent for
    /// <see cref="GatewayOptions.ReplaceSilentAfter"/> (a half-dead socket must not lock its reconnecting
    /// client out until the idle timeout). <paramref name="admitted"/> runs once the connection is sure to
    /// be added, before any push can find it: a handshake's reply goes first.
    /// </summary>
    public Admission Admit(LongConnection connection, Action? admitted, out IReadOnlyList<LongConnection> replaced)
    {
        var session = connection.Session ?? throw new InvalidOperationException("only authenticated connections are added");
        lock (_lock)
        {
            replaced = [];
            if (IsRevoked(session.UserId, session.Grant))
                return Admission.Revoked;
            var current = _byUser.GetValueOrDefault(session.UserId, []);
            var sameDevice = session.DeviceId is null
                ? []
                : current.Where(c => c.Session?.DeviceId == session.DeviceId).ToList();
            // Connections already closing are on their way out (a last frame lingers): they hold no place.
            var live = current.Where(c => !c.IsClosing && !sameDevice.Contains(c)).ToList();
            if (live.Count >= options.MaxConnectionsPerUser)
            {
                var silentmost = live.MaxBy(c => c.SilentFor)!;
                if (silentmost.SilentFor < options.ReplaceSilentAfterSpan)
                    return Admission.OverCap;
                sameDevice.Add(silentmost);
            }
            connection.Admitted = true;
            admitted?.Invoke();
            replaced = sameDevice;
            _byUser[session.UserId] = current.RemoveRange(sameDevice).Add(connection);
            return Admission.Added;
        }
    }

    public void Closed(LongConnection connection)
    {
        if (_open.TryRemove(connection.Id, out _))
            EasyImTelemetry.Connections.Add(-1, new KeyValuePair<string, object?>("transport", connection.Transport));
        if (connection.Session is not { } session)
            return;
        lock (_lock)
        {
            if (!_byUser.TryGetValue(session.UserId, out var current))
                return;
            var remaining = current.Remove(connection);
            if (remaining.IsEmpty)
                _byUser.TryRemove(session.UserId, out _);
            else
                _byUser[session.UserId] = remaining;
        }
    }

    public ImmutableArray<LongConnection> OfUser(long userId) => _byUser.GetValueOrDefault(userId, []);

    public IReadOnlyList<long> Users => [.. _byUser.Keys];

    /// <summary>Every token of the user below <paramref name="version"/> stopped working: returns the connections opened with one.</summary>
    public IReadOnlyList<LongConnection> Revoke(long userId, int version)
    {
        lock (_lock)
        {
            var now = time.GetUtcNow();
            _revoked.AddOrUpdate(userId, (version, now), (_, old) => (Math.Max(old.Version, version), now));
            return [.. OfUser(userId).Where(c => c.Session!.TokenVersion < version)];
        }
    }

    /// <summary>True when a revocation heard lately covers the token: a renewal validated just before it must not outlive it.</summary>
    public bool IsRevoked(long userId, TokenGrant grant) =>
        (_revoked.TryGetValue(userId, out var revoked) && revoked.Version > grant.TokenVersion)
        || (grant.SessionId != 0 && _revokedSessions.ContainsKey(grant.SessionId));

    /// <summary>Every token of one login session of the user stopped working: returns the connections standing on one.</summary>
    public IReadOnlyList<LongConnection> RevokeSession(long userId, long sessionId)
    {
        lock (_lock)
        {
            _revokedSessions[sessionId] = time.GetUtcNow();
            return [.. OfUser(userId).Where(c => c.Session!.SessionId == sessionId)];
        }
    }

    public void ForgetOldRevocations()
    {
        var before = time.GetUtcNow() - RevocationMemory;
        foreach (var (userId, revoked) in _revoked)
        {
            if (revoked.At < before)
                _revoked.TryRemove(new KeyValuePair<long, (int, DateTimeOffset)>(userId, revoked));
        }
        foreach (var (sessionId, at) in _revokedSessions)
        {
            if (at < before)
                _revokedSessions.TryRemove(new KeyValuePair<long, DateTimeOffset>(sessionId, at));
        }
    }
}
