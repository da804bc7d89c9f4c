namespace EasyIm.Contracts.Messaging;

/// <summary>
/// Published by each messaging process (on RabbitMQ) every few seconds: its lease in the group that shares
/// the chat partitions. <paramref name="Registrations"/> holds, per partition, how many times this process's
/// consumer of that partition has registered with the broker: another process that registered after it had
/// heard a registration knows it stands behind that one in the partition's single-active-consumer line.
/// </summary>
public sealed record MessagingInstanceHeartbeat(string InstanceId, DateTimeOffset StartedAt, IReadOnlyList<long> Registrations, DateTimeOffset At);
