using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Sending;
using MassTransit;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// ARRIVED and READ receipts, a gateway's batch at a time, stored by the <see cref="SendPipeline"/>'s
/// writer with the chat messages (SQLite has one writer); the message is done once they are stored and
/// the senders told.
/// </summary>
public sealed class RecordReceiptsConsumer(SendPipeline pipeline) : IConsumer<RecordReceipts>
{
    public Task Consume(ConsumeContext<RecordReceipts> context) => pipeline.RecordAsync(context.Message, context.CancellationToken);
}
