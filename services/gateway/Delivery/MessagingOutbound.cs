using EasyIm.Contracts.Messaging;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Delivery;

/// <summary>
/// What this gateway's connections send to messaging on the hot path, batched: chat messages as
/// <see cref="SubmitChatMessages"/>, receipts as <see cref="RecordReceipts"/>. Chat batches all go
/// to this gateway's partition (<see cref="ChatPartitions"/>), one after the other, so messaging takes
/// them in the order the connections sent them.
/// </summary>
public sealed class MessagingOutbound : IAsyncDisposable
{
    public const int MaxBatch = 256;
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(2);
    private const int Capacity = 16 * MaxBatch;

    private readonly OutboundBatcher<ChatSubmission> _chat;
    private readonly OutboundBatcher<Receipt> _receipts;

    public MessagingOutbound(IBus bus, GatewayIdentity gateway, ILogger<MessagingOutbound> logger)
    {
        var partition = ChatPartitions.Address(ChatPartitions.Of(gateway.Id));
        ISendEndpoint? endpoint = null;
        _chat = new(async batch =>
        {
            endpoint ??= await bus.GetSendEndpoint(partition);
            await endpoint.Send(new SubmitChatMessages(gateway.Id, batch));
        }, MaxBatch, MaxDelay, Capacity, logger);
        _receipts = new(batch => bus.Publish(new RecordReceipts(batch)), MaxBatch, MaxDelay, Capacity, logger);
    }

    public ValueTask SubmitAsync(ChatSubmission message, CancellationToken cancellationToken) => _chat.AddAsync(message, cancellationToken);

    public ValueTask RecordAsync(Receipt receipt, CancellationToken cancellationToken) => _receipts.AddAsync(receipt, cancellationToken);

    /// <summary>Sends what is still queued (the container disposes this after the server stopped taking frames).</summary>
    public async ValueTask DisposeAsync()
    {
        await _chat.DisposeAsync();
        await _receipts.DisposeAsync();
    }
}
