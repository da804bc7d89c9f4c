using System.Data.Common;
using System.Diagnostics;
using System.Threading.Channels;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Hosting;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Delivery;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Messaging.Sending;

/// <summary>
/// The send path's single writer. Chat batches and receipts queue here in the order their consumers took
/// them, and three loops work on consecutive groups at once: the first takes everything queued (up to
/// <see cref="MessagingOptions.MaxMessagesPerTransaction"/>) as one group and does its reads (validation,
/// authorization, receipts' cursors); the second stores each group in one transaction (group commit); the
/// third pushes each committed group's acks and messages. Only the transactions are serial.
/// <para>
/// One writer per process: SQLite has one writer anyway (concurrent transactions only sleep on its lock),
/// and on PostgreSQL it holds one connection whatever the load, while groups grow with the load so that
/// the cost of a commit is shared by more messages. Order: a group keeps the order of its work, and a
/// failed group is retried whole before anything after it, so a chat partition's batches (a gateway's,
/// in the order its connections sent them) are numbered in order whatever fails and retries.
/// </para>
/// <para>
/// A chat batch's consumer returns once the batch is queued, not stored: waiting for the commit would let
/// a partition's consumer take one batch per commit. So a batch taken from the bus and not yet committed
/// is lost if the process dies; its senders got no SENT ack and resend (the same client_msg_id), and since
/// the queue is lost from the first uncommitted batch on, what they resend is numbered in their order.
/// </para>
/// </summary>
public sealed class SendPipeline : IHostedService, IAsyncDisposable
{
    /// <summary>Work items (each a gateway's batch, up to 256 messages) waiting for the writer.</summary>
    public const int QueueCapacity = 128;
    /// <summary>Committed groups waiting for their pushes to be sent.</summary>
    private const int DispatchCapacity = 4;
    /// <summary>Groups read and waiting for the transaction: one, so that reads are at most a group ahead of writes.</summary>
    private const int PreparedCapacity = 1;

    private static readonly int[] BackoffMs = [10, 50, 100, 250, 500, 1000, 2000];

    private readonly IServiceScopeFactory _scopes;
    private readonly PushDispatcher _dispatcher;
    private readonly MessagingOptions _options;
    private readonly ILogger<SendPipeline> _logger;
    private readonly Channel<WriteWork> _work = Channel.CreateBounded<WriteWork>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Channel<PreparedGroup> _prepared = Channel.CreateBounded<PreparedGroup>(
        new BoundedChannelOptions(PreparedCapacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Channel<(List<WriteWork> Group, List<OutgoingPush> Pushes)> _committed = Channel.CreateBounded<(List<WriteWork>, List<OutgoingPush>)>(
        new BoundedChannelOptions(DispatchCapacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _stopping = new();
    private Task _preparing = Task.CompletedTask;
    private Task _writing = Task.CompletedTask;
    private Task _dispatching = Task.CompletedTask;

    /// <summary>A group read and ready for its transaction, with the scope (and DbContext) it was read in; or one whose reads failed.</summary>
    private sealed record PreparedGroup(List<WriteWork> Group, AsyncServiceScope? Scope, GroupWriter? Writer, GroupWriter.Prepared? Prepared, Exception? Failure);

    private readonly SubmissionChain _chain;

    // Groups the prepare loop handed to the write loop, and groups the write loop has committed (or answered
    // FAIL): the chain's database look-up first waits for every group before it, which may hold the message
    // it looks for.
    private long _groupsHanded;
    private long _groupsCommitted;
    private TaskCompletionSource _nextCommit = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SendPipeline(IServiceScopeFactory scopes, PushDispatcher dispatcher, MessagingOptions options, SubmissionChain chain, ILogger<SendPipeline> logger)
    {
        _chain = chain;
        _scopes = scopes;
        _dispatcher = dispatcher;
        _options = options;
        _logger = logger;
    }

    /// <summary>Called inside each write's transaction, just before it commits: a test's way to make writes fail and roll back.</summary>
    internal Func<IReadOnlyList<WriteWork>, Task>? BeforeCommit { get; set; }

    /// <summary>Queues a gateway's chat batch; waits only while the queue is full.</summary>
    public ValueTask SubmitAsync(SubmitChatMessages batch, CancellationToken cancellationToken) =>
        _work.Writer.WriteAsync(new ChatWork(batch), cancellationToken);

    /// <summary>Queues receipts and waits until they are stored and their senders told.</summary>
    public async Task RecordAsync(RecordReceipts receipts, CancellationToken cancellationToken)
    {
        var work = new ReceiptWork(receipts.Receipts ?? []);
        await _work.Writer.WriteAsync(work, cancellationToken);
        await work.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Waits until everything queued before this call is stored (or answered FAIL) and its pushes sent: a chat
    /// partition handed to another process must not let that one store a connection's next message first.
    /// </summary>
    public async Task BarrierAsync(CancellationToken cancellationToken)
    {
        var work = new BarrierWork();
        await _work.Writer.WriteAsync(work, cancellationToken);
        await work.Done.Task.WaitAsync(cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _preparing = Task.Run(PrepareLoopAsync, CancellationToken.None);
        _writing = Task.Run(WriteLoopAsync, CancellationToken.None);
        _dispatching = Task.Run(DispatchLoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Stores and pushes what is queued, then stops (the bus has stopped taking messages by now).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _work.Writer.TryComplete();
        try
        {
            await Task.WhenAll(_preparing, _writing, _dispatching).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            _logger.LogWarning("Stopped before the send queue was written; the senders of what was queued resend");
            await _stopping.CancelAsync();
        }
    }

    /// <summary>Stops at once (after <see cref="StopAsync"/>, or without it); safe to call more than once.</summary>
    public async ValueTask DisposeAsync()
    {
        _work.Writer.TryComplete();
        _stopping.Cancel();
        await Task.WhenAll(_preparing, _writing, _dispatching).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>
    /// Takes everything queued as one group and does its reads (validation, authorization, receipts'
    /// cursors) while the write loop commits the group before: only the transaction itself is serial.
    /// </summary>
    private async Task PrepareLoopAsync()
    {
        var reader = _work.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_stopping.Token))
            {
                var group = new List<WriteWork>();
                var size = 0;
                while (size < _options.MaxMessagesPerTransaction && reader.TryRead(out var work))
                {
                    group.Add(work);
                    size += work.Size;
                }
                group = await KeepChainsAsync(group);
                var scope = _scopes.CreateAsyncScope();
                PreparedGroup prepared;
                try
                {
                    var writer = scope.ServiceProvider.GetRequiredService<GroupWriter>();
                    prepared = new PreparedGroup(group, scope, writer, await writer.PrepareAsync(group, dedupe: false, _stopping.Token), null);
                }
                catch (Exception ex) when (!_stopping.IsCancellationRequested)
                {
                    await scope.DisposeAsync();
                    prepared = new PreparedGroup(group, null, null, null, ex);
                }
                await _prepared.Writer.WriteAsync(prepared, _stopping.Token);
                _groupsHanded++;
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        finally
        {
            _prepared.Writer.TryComplete();
        }
    }

    /// <summary>
    /// Takes out of the group the chat messages whose connection lost an earlier one (<see cref="SubmissionChain"/>)
    /// and answers them FAIL, closing their connections.
    /// </summary>
    private async Task<List<WriteWork>> KeepChainsAsync(List<WriteWork> group)
    {
        var submissions = group.OfType<ChatWork>().SelectMany(c => c.Batch.Messages ?? []).Where(s => s?.Message is not null).ToList();
        if (submissions.Count == 0)
            return group;
        var (_, refused) = await _chain.CheckAsync(submissions, async keys =>
        {
            // A connection's previous message may be in a group that is still committing: wait for those first,
            // or it is not found and the connection's next message is refused although nothing was lost.
            await CommittedThroughAsync(_groupsHanded);
            await using var scope = _scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MessagingDbContext>();
            var senders = keys.Select(k => k.SenderId).Distinct().ToList();
            var ids = keys.Select(k => k.ClientMsgId).Distinct().ToList();
            var rows = await db.Messages.AsNoTracking()
                .Where(m => senders.Contains(m.SenderId) && ids.Contains(m.ClientMsgId))
                .Select(m => new { m.SenderId, m.ClientMsgId })
                .ToListAsync(_stopping.Token);
            return rows.Select(r => (r.SenderId, r.ClientMsgId)).ToHashSet();
        });
        if (refused.Count == 0)
            return group;
        _logger.LogWarning("Refused {Count} chat messages whose connection lost an earlier one (a lost batch); closing those connections so that their clients send again in order",
            refused.Count);
        var refusedSet = refused.ToHashSet(ReferenceEqualityComparer.Instance);
        var pushes = new List<OutgoingPush>();
        var kept = new List<WriteWork>(group.Count);
        foreach (var work in group)
        {
            if (work is not ChatWork chat || chat.Batch.Messages is null || !chat.Batch.Messages.Any(refusedSet.Contains))
            {
                kept.Add(work);
                continue;
            }
            foreach (var s in chat.Batch.Messages.Where(refusedSet.Contains))
                pushes.Add(new OutgoingPush(new UserPush(s.SenderId,
                    ServerEvents.Fail(s.SenderId, s.Message, "an earlier message of this connection was lost; reconnect and send again what got no SENT ack"),
                    OnlyConnectionId: s.ConnectionId, Close: true), chat.Batch.GatewayId));
            var rest = chat.Batch.Messages.Where(s => !refusedSet.Contains(s)).ToList();
            if (rest.Count > 0)
                kept.Add(new ChatWork(chat.Batch with { Messages = rest }));
        }
        try
        {
            await _dispatcher.DispatchAsync(pushes, null, _stopping.Token);
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested)
        {
            // Their senders get no answer and resend; the chain refuses them again until they reconnect.
            _logger.LogError(ex, "Could not answer {Count} refused chat messages", pushes.Count);
        }
        return kept;
    }

    /// <summary>Commits each prepared group in turn; a group that fails is written again from the start, with its retries, before the next.</summary>
    private async Task WriteLoopAsync()
    {
        try
        {
            await foreach (var prepared in _prepared.Reader.ReadAllAsync(_stopping.Token))
            {
                List<OutgoingPush>? pushes = null;
                var failure = prepared.Failure;
                if (prepared.Writer is not null && prepared.Prepared is not null)
                {
                    try
                    {
                        var started = Stopwatch.GetTimestamp();
                        var result = await prepared.Writer.CommitAsync(prepared.Group, prepared.Prepared, BeforeCommit, _stopping.Token);
                        LogGroup(prepared.Group, result, started);
                        pushes = result.Pushes;
                    }
                    catch (Exception ex) when (!_stopping.IsCancellationRequested)
                    {
                        // Counted even when it is a resend caught by the (sender, client_msg_id) index: rare, and a failed commit still.
                        EasyImTelemetry.DatabaseErrors.Add(1);
                        failure = ex;
                    }
                    finally
                    {
                        await prepared.Scope!.Value.DisposeAsync();
                    }
                }
                if (pushes is null)
                {
                    // Most often a resend of a stored message, which the retry's dedupe finds.
                    _logger.LogDebug("Storing a group of {Work} batches failed ({Error}: {Message}); retrying with the dedupe",
                        prepared.Group.Count, failure?.GetType().Name, failure?.Message);
                    pushes = await WriteWithRetryAsync(prepared.Group);
                }
                GroupCommitted();
                await _committed.Writer.WriteAsync((prepared.Group, pushes), _stopping.Token);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        finally
        {
            _committed.Writer.TryComplete();
        }
    }

    private void GroupCommitted()
    {
        Interlocked.Increment(ref _groupsCommitted);
        Interlocked.Exchange(ref _nextCommit, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Completes once the write loop has committed (or answered FAIL) <paramref name="groups"/> groups.</summary>
    private async Task CommittedThroughAsync(long groups)
    {
        while (true)
        {
            var next = Volatile.Read(ref _nextCommit);
            if (Interlocked.Read(ref _groupsCommitted) >= groups)
                return;
            await next.Task.WaitAsync(_stopping.Token);
        }
    }

    private async Task DispatchLoopAsync()
    {
        await foreach (var (group, pushes) in _committed.Reader.ReadAllAsync())
        {
            try
            {
                await _dispatcher.DispatchAsync(pushes, null, _stopping.Token);
            }
            catch (Exception ex)
            {
                EasyImTelemetry.BusErrors.Add(1);
                // Stored: the senders miss their acks and resend (deduped), the recipients get them on their next sync.
                _logger.LogError(ex, "Could not push a stored group of {Work} batches ({Pushes} pushes)", group.Count, pushes.Count);
            }
            foreach (var awaited in group.OfType<AwaitedWork>())
                awaited.Done.TrySetResult();
        }
    }

    /// <summary>
    /// Writes a group whose first attempt failed, whole, with the dedupe, retrying while the database fails
    /// in a way that may pass (a lost connection, a restart, a deadlock), for up to
    /// <see cref="MessagingOptions.StoreRetrySeconds"/>. Past that, or for an error that will not pass, each
    /// batch is tried alone, so that one bad batch cannot sink the others; what still fails is answered
    /// FAIL (its senders may send it again).
    /// </summary>
    private async Task<List<OutgoingPush>> WriteWithRetryAsync(List<WriteWork> group)
    {
        var started = Stopwatch.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await WriteOnceAsync(group, dedupe: true);
            }
            catch (Exception ex) when (!_stopping.IsCancellationRequested && IsTransient(ex)
                && Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(_options.StoreRetrySeconds))
            {
                EasyImTelemetry.DatabaseErrors.Add(1);
                var delay = BackoffMs[Math.Min(attempt - 1, BackoffMs.Length - 1)];
                _logger.LogWarning("Storing a group of {Work} batches failed ({Error}: {Message}); attempt {Attempt}, retrying in {Delay} ms",
                    group.Count, ex.GetType().Name, ex.Message, attempt + 1, delay);
                await Task.Delay(delay, _stopping.Token);
            }
            catch (Exception ex) when (group.Count > 1 && !_stopping.IsCancellationRequested)
            {
                EasyImTelemetry.DatabaseErrors.Add(1);
                _logger.LogError(ex, "Storing a group of {Work} batches failed; storing each batch alone", group.Count);
                var pushes = new List<OutgoingPush>();
                foreach (var work in group)
                    pushes.AddRange(await WriteAloneAsync(work));
                return pushes;
            }
            catch (Exception ex) when (!_stopping.IsCancellationRequested)
            {
                EasyImTelemetry.DatabaseErrors.Add(1);
                _logger.LogError(ex, "Storing a batch failed; its senders are answered FAIL");
                return Failed(group[0]);
            }
        }
    }

    private async Task<List<OutgoingPush>> WriteAloneAsync(WriteWork work)
    {
        try
        {
            return await WriteOnceAsync([work], dedupe: true);
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested)
        {
            EasyImTelemetry.DatabaseErrors.Add(1);
            _logger.LogError(ex, "Storing a batch alone failed; its senders are answered FAIL");
            return Failed(work);
        }
    }

    private async Task<List<OutgoingPush>> WriteOnceAsync(List<WriteWork> group, bool dedupe)
    {
        var started = Stopwatch.GetTimestamp();
        await using var scope = _scopes.CreateAsyncScope();
        var result = await scope.ServiceProvider.GetRequiredService<GroupWriter>().WriteAsync(group, dedupe, BeforeCommit, _stopping.Token);
        LogGroup(group, result, started);
        return result.Pushes;
    }

    private void LogGroup(List<WriteWork> group, GroupWriter.Result result, long started) =>
        _logger.LogDebug("Group of {Work} batches: {Stored} stored, {Refused} refused, {Cursors} cursors moved in {Elapsed} ms",
            group.Count, result.Stored, result.Refused, result.CursorsMoved, Stopwatch.GetElapsedTime(started).TotalMilliseconds);

    /// <summary>Every chat message of the work is answered FAIL; receipts are dropped (a later one covers them).</summary>
    private static List<OutgoingPush> Failed(WriteWork work)
    {
        if (work is not ChatWork chat)
            return [];
        return (chat.Batch.Messages ?? [])
            .Where(s => s?.Message is not null)
            .Select(s => new OutgoingPush(
                new UserPush(s.SenderId, ServerEvents.Fail(s.SenderId, s.Message, "the message could not be stored; send it again"), OnlyConnectionId: s.ConnectionId),
                chat.Batch.GatewayId))
            .ToList();
    }

    private static bool IsTransient(Exception ex) =>
        ex is DbException or DbUpdateException or TimeoutException or InvalidOperationException { InnerException: DbException }
        || ex.InnerException is DbException or TimeoutException;
}
