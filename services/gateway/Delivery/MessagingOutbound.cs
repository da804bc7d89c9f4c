using EasyIm.Contracts.Messaging;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Delivery;

/// <summary>
/// What this gateway's connections send to messaging on the hot path, batched: chat messages as
/// <see cref="SubmitChatMessages"/>, receipts as <see cref="RecordReceipts"/>.
/// </summary>
public sealed class MessagingOutbound(IBus bus, GatewayIdentity gateway, ILogger<MessagingOutbound> logger) : IAsyncDisposable
{
    public const int MaxBatch = 256;
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(2);
    private const int Capacity = 16 * MaxBatch;

    private readonly OutboundBatcher<ChatSubmission> _chat = new(
        batch => bus.Publish(new SubmitChatMessages(gateway.Id, batch)), MaxBatch, MaxDelay, Capacity, logger);
    private readonly OutboundBatcher<Receipt> _receipts = new(
        batch => bus.Publish(new RecordReceipts(batch)), MaxBatch, MaxDelay, Capacity, logger);

    public ValueTask SubmitAsync(ChatSubmission message, CancellationToken cancellationToken) => _chat.AddAsync(message, cancellationToken);

    public ValueTask RecordAsync(Receipt receipt, CancellationToken cancellationToken) => _receipts.AddAsync(receipt, cancellationToken);

    /// <summary>Sends what is still queued (the container disposes this after the server stopped taking frames).</summary>
    public async ValueTask DisposeAsync()
    {
        await _chat.DisposeAsync();
        await _receipts.DisposeAsync();
    }
}
