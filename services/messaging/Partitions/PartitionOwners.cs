using EasyIm.Contracts.Messaging;

namespace EasyIm.Messaging.Partitions;

/// <summary>
/// Which live messaging process should be the active consumer of each chat partition: the processes sorted by
/// id, partition p to the (p mod n)-th. Every process computes it alone from the same list, so they agree
/// whenever they have heard the same processes; 8 partitions over 2 processes are 4 each, over 3 are 3/3/2.
/// </summary>
public static class PartitionOwners
{
    public static IReadOnlyList<string> Sort(IEnumerable<string> instanceIds) =>
        instanceIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <param name="sortedLive">Live instance ids in <see cref="Sort"/> order; never empty (a process counts itself).</param>
    public static string Owner(IReadOnlyList<string> sortedLive, int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, ChatPartitions.Count);
        if (sortedLive.Count == 0)
            throw new ArgumentException("at least one instance (this one) is live", nameof(sortedLive));
        return sortedLive[partition % sortedLive.Count];
    }

    /// <summary>The partitions <paramref name="instanceId"/> owns.</summary>
    public static IReadOnlyList<int> OwnedBy(IReadOnlyList<string> sortedLive, string instanceId) =>
        Enumerable.Range(0, ChatPartitions.Count).Where(p => Owner(sortedLive, p) == instanceId).ToList();
}
