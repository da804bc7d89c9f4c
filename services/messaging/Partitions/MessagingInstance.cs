namespace EasyIm.Messaging.Partitions;

/// <summary>This messaging process in the group that shares the chat partitions: a random id, and when it started.</summary>
public sealed class MessagingInstance(TimeProvider time)
{
    public string Id { get; } = Guid.NewGuid().ToString("N")[..12];
    public DateTimeOffset StartedAt { get; } = time.GetUtcNow();

    /// <summary>The consumer tag of this process's consumer on a chat partition: who is active shows in the broker's queue details.</summary>
    public string ConsumerTag(int partition) => $"{Id}-chat-{partition}";
}
