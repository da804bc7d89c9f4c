using EasyIm.Contracts.Friends;
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
/// <param name="answers">
/// For messages that were set aside for friends' answers (<see cref="SendPipeline"/>) and come back: those answers,
/// used where the projection says no. Such work has passed the submission chain already.
/// </param>
internal sealed class ChatWork(SubmitChatMessages batch, IReadOnlyDictionary<RelationshipQuery, bool>? answers = null) : WriteWork
{
    public SubmitChatMessages Batch { get; } = batch;
    public IReadOnlyDictionary<RelationshipQuery, bool>? Answers { get; } = answers;
    /// <summary>Messages set aside that come back: not checked against the submission chain again.</summary>
    public bool Resumed => Answers is not null;
    public override int Size => Batch.Messages?.Count ?? 0;
}

/// <summary>Nothing to store: wakes the send path's reading loop when messages set aside may come back.</summary>
internal sealed class WakeWork : WriteWork
{
    public static readonly WakeWork Instance = new();
    public override int Size => 0;
}

/// <summary>Work someone waits for: done once its group is stored and its pushes sent.</summary>
internal abstract class AwaitedWork : WriteWork
{
    public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>A gateway's receipts; its consumer waits until they are stored and their senders told.</summary>
internal sealed class ReceiptWork(IReadOnlyList<Receipt> receipts) : AwaitedWork
{
    public IReadOnlyList<Receipt> Receipts { get; } = receipts;
    public override int Size => Receipts.Count;
}

/// <summary>Nothing to store: done once everything queued before it is stored and pushed (a partition's hand-over waits on it).</summary>
internal sealed class BarrierWork : AwaitedWork
{
    public override int Size => 0;
}
