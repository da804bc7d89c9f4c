using EasyIm.Contracts.Messaging;
using Microsoft.Extensions.Logging;

namespace EasyIm.Messaging.Partitions;

/// <summary>
/// The other messaging processes this one has heard (<see cref="MessagingInstanceHeartbeat"/>), as soft state
/// with leases, like gateways' presence (<see cref="Delivery.DeliveryRouter"/>): a process silent for
/// <see cref="MessagingOptions.MissedHeartbeats"/> heartbeats of <see cref="MessagingOptions.InstanceHeartbeatSeconds"/>
/// is taken for dead. The broker hands its partitions to a standby at once when its connection goes; the
/// lease only decides when the survivors share its partitions out again.
/// </summary>
public sealed class InstanceMembership(MessagingOptions options, TimeProvider time, ILogger<InstanceMembership> logger)
{
    private sealed class Member
    {
        public IReadOnlyList<long> Registrations { get; set; } = [];
    }

    private readonly Lock _lock = new();
    private readonly LeaseTable<Member> _members = new(() => (long)options.InstanceHeartbeatSeconds * options.MissedHeartbeats * 1000);

    /// <summary>Raised (outside the lock) when a process is heard that was not live: it should hear this one soon.</summary>
    public event Action? Joined;

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Renews the lease of the heartbeat's process; true when it was not live before (it joined, or came back).</summary>
    public bool Heard(MessagingInstanceHeartbeat heartbeat)
    {
        bool joined;
        lock (_lock)
        {
            var now = NowMs;
            Expire(now);
            joined = _members.Renew(heartbeat.InstanceId, now, () => new Member(), out var member);
            member.Registrations = heartbeat.Registrations ?? [];
            if (joined)
                logger.LogInformation("Messaging instance {InstanceId} is live ({Count} others live)", heartbeat.InstanceId, _members.Count);
        }
        if (joined)
            Joined?.Invoke();
        return joined;
    }

    /// <summary>The ids of the other processes whose lease has not ended.</summary>
    public IReadOnlyList<string> Others()
    {
        lock (_lock)
        {
            Expire(NowMs);
            return [.. _members.Keys];
        }
    }

    /// <summary>How many times <paramref name="instanceId"/> had registered its consumer of <paramref name="partition"/>, as last heard (0: never, or unknown).</summary>
    public long Registration(string instanceId, int partition)
    {
        lock (_lock)
            return _members.TryGetValue(instanceId, out var member) && partition < member.Registrations.Count ? member.Registrations[partition] : 0;
    }

    /// <summary>Every live process's registration count for the partition, as heard now.</summary>
    public IReadOnlyDictionary<string, long> Registrations(int partition)
    {
        lock (_lock)
        {
            Expire(NowMs);
            return _members.Entries.ToDictionary(m => m.Key, m => partition < m.Value.Registrations.Count ? m.Value.Registrations[partition] : 0, StringComparer.Ordinal);
        }
    }

    private void Expire(long now)
    {
        foreach (var (id, _) in _members.Expire(now))
        {
            logger.LogWarning("Messaging instance {InstanceId} missed {Beats} heartbeats; its chat partitions are shared out again", id, options.MissedHeartbeats);
        }
    }
}
