using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Sending;
using MassTransit;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// A gateway's chat batch, from its partition's queue: handed to the <see cref="SendPipeline"/> in the
/// order the partition delivers them (its endpoint takes one message at a time; see
/// <see cref="MessagingModule.ConfigureMessagingEndpoints"/>). The pipeline validates, dedupes,
/// authorizes, numbers and stores it, and pushes the acks and messages once it is committed.
/// </summary>
public sealed class SubmitChatMessagesConsumer(SendPipeline pipeline) : IConsumer<SubmitChatMessages>
{
    public async Task Consume(ConsumeContext<SubmitChatMessages> context) =>
        await pipeline.SubmitAsync(context.Message, context.CancellationToken);
}
