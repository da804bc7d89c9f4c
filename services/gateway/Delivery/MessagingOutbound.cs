using System.Diagnostics;
using EasyIm.Contracts.Messaging;
using EasyIm.Gateway.Connections;
using EasyIm.Hosting;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Delivery;

/// <summary>
/// What this gateway's connections send to messaging on the hot path, batched: chat messages as
/// <see cref="SubmitChatMessages"/>, receipts as <see cref="RecordReceipts"/>. Chat batches all go
/// to this gateway's partition (<see cref="ChatPartitions"/>), one after the other, so messaging takes
/// them in the order the connections sent them. Receipts are coalesced per cursor and never wait
/// (<see cref="ReceiptQueue"/>): one connection's flood cannot hold up another's receipts or its reading.
/// </summary>
public sealed class MessagingOutbound : IAsyncDisposable
{
    public const int MaxBatch = 256;
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(2);
    private const int Capacity = 16 * MaxBatch;
    /// <summary>Receipts of one connection, for different cursors, that may wait to leave at once.</summary>
    public const int MaxReceiptsWaitingPerConnection = 256;

    private readonly OutboundBatcher<ChatSubmission> _chat;
    private readonly ReceiptQueue _receipts;

    public MessagingOutbound(IBus bus, GatewayIdentity gateway, ILogger<MessagingOutbound> logger)
    {
        var partition = ChatPartitions.Address(ChatPartitions.Of(gateway.Id));
        ISendEndpoint? endpoint = null;
        _chat = new(async batch =>
        {
            endpoint ??= await bus.GetSendEndpoint(partition);
            var span = EasyImTelemetry.Tracing ? StartBatchSpan(batch) : null;
            var outer = Activity.Current;
            // Current while sending, so that MassTransit's send span is its child and carries its context.
            Activity.Current = span ?? outer;
            try
            {
                await endpoint.Send(new SubmitChatMessages(gateway.Id, batch));
            }
            catch (Exception ex)
            {
                EasyImTelemetry.BusErrors.Add(1);
                span?.SetStatus(ActivityStatusCode.Error, ex.Message);
                throw;
            }
            finally
            {
                EasyImTelemetry.Stop(span);
                Activity.Current = outer;
            }
        }, MaxBatch, MaxDelay, Capacity, logger);
        _receipts = new ReceiptQueue(async batch =>
        {
            try
            {
                await bus.Publish(new RecordReceipts(batch));
            }
            catch
            {
                EasyImTelemetry.BusErrors.Add(1);
                throw;
            }
        }, MaxBatch, MaxDelay, MaxReceiptsWaitingPerConnection, logger);
    }

    /// <summary>
    /// A batch is one bus message with one trace context: its span continues the trace of its first
    /// traced message and links every other one, so a message that travels alone is one trace end to
    /// end, and in a full batch each message's own trace still runs receive, store and push (its
    /// context rides in <see cref="ChatSubmission.TraceParent"/>), only the bus hop is shared.
    /// </summary>
    private static Activity? StartBatchSpan(IReadOnlyList<ChatSubmission> batch)
    {
        string? first = null;
        List<ActivityLink>? links = null;
        foreach (var message in batch)
        {
            if (message.TraceParent is null)
                continue;
            if (first is null)
                first = message.TraceParent;
            else if (ActivityContext.TryParse(message.TraceParent, null, isRemote: true, out var linked))
                (links ??= []).Add(new ActivityLink(linked));
        }
        var span = EasyImTelemetry.StartMessageSpan("chat batch send", ActivityKind.Producer, first);
        span?.SetTag("easyim.batch.size", batch.Count);
        if (links is not null)
            foreach (var link in links)
                span?.AddLink(link);
        return span;
    }

    public ValueTask SubmitAsync(ChatSubmission message, CancellationToken cancellationToken) => _chat.AddAsync(message, cancellationToken);

    /// <summary>Queues a receipt of <paramref name="from"/> without waiting; false when that connection has too many waiting (see <see cref="ReceiptQueue"/>).</summary>
    public bool Record(Receipt receipt, LongConnection? from) => _receipts.Add(receipt, from);

    /// <summary>Sends what is still queued (the container disposes this after the server stopped taking frames).</summary>
    public async ValueTask DisposeAsync()
    {
        await _chat.DisposeAsync();
        await _receipts.DisposeAsync();
    }
}
