namespace EasyIm.Contracts.Messaging;

/// <summary>
/// Where a gateway sends its chat batches: one of <see cref="Count"/> partitions, always the same one
/// for a gateway. Messaging consumes each partition one batch at a time, in order, with one active
/// consumer across replicas, so a connection's messages are numbered in the order it sent them.
/// <para>
/// The count is fixed here, not configured, so that gateways and messaging can never disagree on it.
/// It bounds how many messaging replicas share the send path (each partition is consumed by one; with n
/// replicas, each is the active consumer of about Count / n, see docs/architecture.md).
/// </para>
/// </summary>
public static class ChatPartitions
{
    public const int Count = 8;

    public static int Of(string gatewayId)
    {
        // FNV-1a: stable across processes and runtimes (string.GetHashCode is randomized per process).
        var hash = 2166136261u;
        foreach (var c in gatewayId)
            hash = (hash ^ c) * 16777619u;
        return (int)(hash % Count);
    }

    public static string QueueName(int partition) => $"messaging-chat-{partition}";

    /// <summary>The partition whose queue is the last segment of <paramref name="address"/>, if it is one.</summary>
    public static bool TryParse(Uri? address, out int partition)
    {
        partition = -1;
        if (address is null)
            return false;
        var path = address.IsAbsoluteUri ? address.AbsolutePath : address.OriginalString;
        var name = path[(path.LastIndexOf('/') + 1)..];
        const string prefix = "messaging-chat-";
        return name.StartsWith(prefix, StringComparison.Ordinal)
            && int.TryParse(name.AsSpan(prefix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out partition)
            && partition < Count;
    }

    /// <summary>
    /// The partition's exchange, which its queue is bound to. Sending to the exchange, not the queue,
    /// leaves declaring the queue (and its arguments) to messaging alone.
    /// </summary>
    public static Uri Address(int partition) => new($"exchange:{QueueName(partition)}");
}
