using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Partitions;
using EasyIm.Messaging.Sending;
using MassTransit;
using MassTransit.RabbitMqTransport;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// A gateway's chat batch, from its partition's queue: handed to the <see cref="SendPipeline"/> in the
/// order the partition delivers them (its endpoint takes one message at a time; see
/// <see cref="MessagingModule.ConfigureMessagingEndpoints"/>). The pipeline validates, dedupes,
/// authorizes, numbers and stores it, and pushes the acks and messages once it is committed.
/// <para>
/// On RabbitMQ it first passes the partition's gate (<see cref="ChatPartitionConsumers"/>): while the partition
/// is handed over the batch waits there, and it is not queued at all when its channel was closed meanwhile (the
/// broker has put it back at the head of the queue for the partition's next consumer).
/// </para>
/// </summary>
public sealed class SubmitChatMessagesConsumer(SendPipeline pipeline, ChatPartitionConsumers partitions) : IConsumer<SubmitChatMessages>
{
    public async Task Consume(ConsumeContext<SubmitChatMessages> context)
    {
        if (!context.ReceiveContext.TryGetPayload<ChannelContext>(out var channel) || !ChatPartitions.TryParse(context.ReceiveContext.InputAddress, out var partition))
        {
            await pipeline.SubmitAsync(context.Message, context.CancellationToken);
            return;
        }
        if (!await partitions.EnterAsync(partition, channel, context.CancellationToken))
            return;
        var taken = false;
        try
        {
            await pipeline.SubmitAsync(context.Message, context.CancellationToken);
            taken = true;
        }
        finally
        {
            partitions.Exit(partition, taken);
        }
    }
}
