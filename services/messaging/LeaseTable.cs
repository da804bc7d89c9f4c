namespace EasyIm.Messaging;

/// <summary>
/// Soft state with leases, keyed by whoever sends the heartbeats: each heartbeat renews its sender's entry,
/// and an entry silent for longer than the lease is dropped, by this process's clock. The chat partitions' sharing
/// keeps the messaging processes in one (<see cref="Partitions.InstanceMembership"/>); gateways' presence is judged
/// on the gateways' own clocks instead (<see cref="Hosting.Presence.PresenceTable"/>). Not thread-safe: its owner holds its own lock.
/// </summary>
public sealed class LeaseTable<TValue>(Func<long> leaseMs) where TValue : class
{
    private sealed class Entry(TValue value)
    {
        public TValue Value { get; } = value;
        public long LastHeardMs { get; set; }
    }

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public int Count => _entries.Count;

    public IReadOnlyCollection<string> Keys => _entries.Keys;

    public IEnumerable<KeyValuePair<string, TValue>> Entries => _entries.Select(e => KeyValuePair.Create(e.Key, e.Value.Value));

    /// <summary>The live entry of <paramref name="key"/>; it must be there.</summary>
    public TValue this[string key] => _entries[key].Value;

    public bool TryGetValue(string key, out TValue value)
    {
        if (_entries.TryGetValue(key, out var entry))
        {
            value = entry.Value;
            return true;
        }
        value = null!;
        return false;
    }

    /// <summary>A heartbeat from <paramref name="key"/> at <paramref name="nowMs"/>: renews its lease, creating its entry when it had none (then returns true).</summary>
    public bool Renew(string key, long nowMs, Func<TValue> create, out TValue value)
    {
        var created = false;
        if (!_entries.TryGetValue(key, out var entry))
        {
            _entries[key] = entry = new Entry(create());
            created = true;
        }
        entry.LastHeardMs = nowMs;
        value = entry.Value;
        return created;
    }

    /// <summary>Drops the entries whose lease has ended by <paramref name="nowMs"/> and returns them, for their owner to clean up after.</summary>
    public List<KeyValuePair<string, TValue>> Expire(long nowMs)
    {
        var lease = leaseMs();
        var expired = _entries.Where(e => nowMs - e.Value.LastHeardMs > lease).Select(e => KeyValuePair.Create(e.Key, e.Value.Value)).ToList();
        foreach (var (key, _) in expired)
            _entries.Remove(key);
        return expired;
    }
}
