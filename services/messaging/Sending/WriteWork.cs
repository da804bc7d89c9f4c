using EasyIm.Contracts.Messaging;

namespace EasyIm.Messaging.Sending;

/// <summary>What the <see cref="SendPipeline"/>'s writer stores, many per transaction.</summary>
internal abstract class WriteWork
{
    /// <summary>Rows it may write, to bound a transaction.</summary>
    public abstract int Size { get; }
}

/// <summary>
/// A gateway's chat batch. Nobody waits for it: its senders' SENT acks (or FAILs), pushed after the
/// commit, are the answer, and a sender with no answer resends the same client_msg_id.
/// </summary>
internal sealed class ChatWork(SubmitChatMessages batch) : WriteWork
{
    public SubmitChatMessages Batch { get; } = batch;
    public override int Size => Batch.Messages?.Count ?? 0;
}

/// <summary>A gateway's receipts; its consumer waits until they are stored and their senders told.</summary>
internal sealed class ReceiptWork(IReadOnlyList<Receipt> receipts) : WriteWork
{
    public IReadOnlyList<Receipt> Receipts { get; } = receipts;
    public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public override int Size => Receipts.Count;
}
