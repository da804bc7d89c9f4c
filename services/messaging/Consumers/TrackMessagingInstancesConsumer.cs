using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Partitions;
using MassTransit;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// The other messaging processes' heartbeats, on a temporary endpoint of this process (like presence), for
/// sharing out the chat partitions. A process heard for the first time gets this one's heartbeat at once, so
/// that a newcomer learns the group within a tick instead of a heartbeat period.
/// </summary>
public sealed class TrackMessagingInstancesConsumer(MessagingInstance self, InstanceMembership membership) : IConsumer<MessagingInstanceHeartbeat>
{
    public Task Consume(ConsumeContext<MessagingInstanceHeartbeat> context)
    {
        if (context.Message.InstanceId == self.Id)
            return Task.CompletedTask;
        membership.Heard(context.Message);
        return Task.CompletedTask;
    }
}
