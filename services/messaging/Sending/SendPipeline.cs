using System.Diagnostics;
using System.Threading.Channels;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Hosting;
using EasyIm.Hosting.Database;
using EasyIm.Messaging.Authorization;
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

    private readonly RowIsolation.Policy _retryPolicy;
    private readonly TimeProvider _time;

    public SendPipeline(IServiceScopeFactory scopes, PushDispatcher dispatcher, MessagingOptions options, SubmissionChain chain, ILogger<SendPipeline> logger,
        TimeProvider time)
    {
        _time = time;
        _retryPolicy = RowIsolation.Policy.Default(TimeSpan.FromSeconds(options.StoreRetrySeconds));
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
    /// Waits until everything queued before this call is stored (or answered FAIL) and its pushes sent, messages set
    /// aside for friends' answers included: a chat partition handed to another process must not let that one store a
    /// connection's next message first.
    /// </summary>
    public async Task BarrierAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var work = new BarrierWork();
            await _work.Writer.WriteAsync(work, cancellationToken);
            await work.Done.Task.WaitAsync(cancellationToken);
            Task emptied;
            lock (_parked)
            {
                if (_parked.Count == 0)
                    return;
                emptied = (_parkedEmptied ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
            // Once they come back they are in the next group, which the next barrier waits for.
            await emptied.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Connections with messages set aside while friends is asked about a relationship (<see cref="Park"/>).</summary>
    private sealed class ParkedConnection(string gatewayId)
    {
        public string GatewayId { get; } = gatewayId;
        public List<ChatSubmission> Messages { get; } = [];
        /// <summary>Friends' answers, once they came (no answer in time: no).</summary>
        public Dictionary<RelationshipQuery, bool>? Answers { get; set; }
    }

    private readonly Dictionary<string, ParkedConnection> _parked = new(StringComparer.Ordinal);
    private TaskCompletionSource? _parkedEmptied;

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
                var group = Unpark();
                var size = group.Sum(w => w.Size);
                while (size < _options.MaxMessagesPerTransaction && reader.TryRead(out var work))
                {
                    if (work is WakeWork)
                        continue;
                    group.Add(work);
                    size += work.Size;
                }
                group = await KeepChainsAsync(group);
                group = SetAsideBehindParked(group);
                var scope = _scopes.CreateAsyncScope();
                PreparedGroup prepared;
                try
                {
                    var writer = scope.ServiceProvider.GetRequiredService<GroupWriter>();
                    var read = await writer.PrepareAsync(group, dedupe: false, _stopping.Token, askLater: true);
                    if (read.Deferred.Count > 0)
                        group = Park(group, read.Deferred);
                    prepared = new PreparedGroup(group, scope, writer, read, null);
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
        var submissions = group.OfType<ChatWork>().Where(c => !c.Resumed).SelectMany(c => c.Batch.Messages ?? []).Where(s => s?.Message is not null).ToList();
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
            if (work is not ChatWork chat || chat.Resumed || chat.Batch.Messages is null || !chat.Batch.Messages.Any(refusedSet.Contains))
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
        // Queued, not awaited: a gateway whose sends hang must not hold up the next group's reads.
        try
        {
            var sent = await _dispatcher.QueueAsync(pushes, null, _stopping.Token);
            _ = sent.ContinueWith(t => _logger.LogError(t.Exception, "Could not answer {Count} refused chat messages", pushes.Count),
                CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested)
        {
            // Their senders get no answer and resend; the chain refuses them again until they reconnect.
            _logger.LogError(ex, "Could not answer {Count} refused chat messages", pushes.Count);
        }
        return kept;
    }

    /// <summary>
    /// Sets aside what the group's reads deferred (<see cref="GroupWriter.Prepared.Deferred"/>: messages whose relationship the
    /// projection does not hold, and the later messages of their connections) and asks friends about them beside the
    /// writer: one slow or absent friends service costs those senders the wait, never everyone's send path. Their
    /// connections stay set aside (<see cref="SetAsideBehindParked"/>) until the answer comes back (<see cref="Unpark"/>).
    /// Returns the group without them.
    /// </summary>
    private List<WriteWork> Park(List<WriteWork> group, List<GroupWriter.Item> deferred)
    {
        var set = deferred.Select(i => i.Submission).ToHashSet(ReferenceEqualityComparer.Instance);
        var asks = new Dictionary<string, List<RelationshipQuery>>(StringComparer.Ordinal);
        lock (_parked)
        {
            var setAside = new List<ParkedConnection>();
            foreach (var item in deferred)
            {
                var connection = item.Submission.ConnectionId;
                if (!_parked.TryGetValue(connection, out var parked))
                {
                    _parked[connection] = parked = new ParkedConnection(item.GatewayId);
                    setAside.Add(parked);
                }
                parked.Messages.Add(item.Submission);
                if (item.Ask is { } query)
                {
                    if (!asks.TryGetValue(connection, out var queries))
                        asks[connection] = queries = [];
                    queries.Add(query);
                }
            }
            // A connection set aside only behind a message of another of its user's (a resend) asks nothing: it comes back at once.
            foreach (var parked in setAside.Where(p => !asks.ContainsKey(p.Messages[0].ConnectionId)))
                parked.Answers = [];
        }
        foreach (var (connection, queries) in asks)
            _ = AskFriendsAsync(connection, queries);
        _logger.LogDebug("Set aside {Count} chat messages until friends answers about {Asks} relationships", deferred.Count, asks.Values.Sum(q => q.Count));
        if (asks.Count == 0)
            _work.Writer.TryWrite(WakeWork.Instance);

        var kept = new List<WriteWork>(group.Count);
        foreach (var work in group)
        {
            if (work is not ChatWork chat || chat.Batch.Messages is null || !chat.Batch.Messages.Any(set.Contains))
            {
                kept.Add(work);
                continue;
            }
            var rest = chat.Batch.Messages.Where(s => !set.Contains(s)).ToList();
            if (rest.Count > 0)
                kept.Add(new ChatWork(chat.Batch with { Messages = rest }, chat.Answers));
        }
        return kept;
    }

    private async Task AskFriendsAsync(string connection, List<RelationshipQuery> queries)
    {
        Dictionary<RelationshipQuery, bool> answers;
        try
        {
            await using var scope = _scopes.CreateAsyncScope();
            answers = await scope.ServiceProvider.GetRequiredService<RelationshipChecker>().AskAsync(queries, _stopping.Token);
        }
        catch (Exception ex) when (!_stopping.IsCancellationRequested)
        {
            _logger.LogWarning(ex, "Could not ask friends about {Count} relationships; the messages that waited for them are refused", queries.Count);
            answers = queries.Distinct().ToDictionary(q => q, _ => false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        lock (_parked)
        {
            if (_parked.TryGetValue(connection, out var parked))
                parked.Answers = answers;
        }
        _work.Writer.TryWrite(WakeWork.Instance);
    }

    /// <summary>
    /// Takes the messages set aside whose answers came, as work at the head of the next group (each connection's in
    /// its order, with the answers); the connections are no longer set aside.
    /// </summary>
    private List<WriteWork> Unpark()
    {
        var resumed = new List<WriteWork>();
        lock (_parked)
        {
            if (_parked.Count == 0)
                return resumed;
            foreach (var (connection, parked) in _parked.Where(p => p.Value.Answers is not null).ToList())
            {
                _parked.Remove(connection);
                resumed.Add(new ChatWork(new SubmitChatMessages(parked.GatewayId, parked.Messages), parked.Answers));
            }
            if (_parked.Count == 0)
            {
                _parkedEmptied?.TrySetResult();
                _parkedEmptied = null;
            }
        }
        return resumed;
    }

    /// <summary>Sets aside, behind them, the messages of connections that have messages set aside (their order).</summary>
    private List<WriteWork> SetAsideBehindParked(List<WriteWork> group)
    {
        lock (_parked)
        {
            if (_parked.Count == 0)
                return group;
            var kept = new List<WriteWork>(group.Count);
            foreach (var work in group)
            {
                if (work is not ChatWork chat || chat.Resumed || chat.Batch.Messages is null
                    || !chat.Batch.Messages.Any(s => s is not null && _parked.ContainsKey(s.ConnectionId)))
                {
                    kept.Add(work);
                    continue;
                }
                var rest = new List<ChatSubmission>();
                foreach (var s in chat.Batch.Messages)
                {
                    if (s is not null && _parked.TryGetValue(s.ConnectionId, out var parked))
                        parked.Messages.Add(s);
                    else
                        rest.Add(s!);
                }
                if (rest.Count > 0)
                    kept.Add(new ChatWork(chat.Batch with { Messages = rest }));
            }
            return kept;
        }
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
                        failure = ex; // counted and logged by the retry, with its kind
                    }
                    finally
                    {
                        await prepared.Scope!.Value.DisposeAsync();
                    }
                }
                // Most often a resend of a stored message, which the retry's dedupe finds.
                pushes ??= await WriteWithRetryAsync(prepared.Group, failure);
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

    /// <summary>
    /// Queues each committed group's pushes on the gateways' lanes (<see cref="PushDispatcher"/>) and goes on to the
    /// next group: a gateway whose sends hang delays only its own pushes. Receipts and barriers are answered once
    /// their group's pushes are sent (a barrier, once everything queued before it is).
    /// </summary>
    private async Task DispatchLoopAsync()
    {
        var inFlight = new List<Task>();
        await foreach (var (group, pushes) in _committed.Reader.ReadAllAsync())
        {
            Task sent;
            try
            {
                sent = await _dispatcher.QueueAsync(pushes, null, _stopping.Token);
            }
            catch (Exception ex)
            {
                sent = Task.FromException(ex);
            }
            var awaited = group.OfType<AwaitedWork>().ToList();
            if (awaited.OfType<BarrierWork>().Any())
                sent = Task.WhenAll(sent, _dispatcher.SentSoFarAsync());
            if (awaited.Count == 0 && sent.IsCompletedSuccessfully)
                continue;
            inFlight.RemoveAll(t => t.IsCompleted);
            inFlight.Add(FinishAsync(sent, group.Count, pushes.Count, awaited));
        }
        await Task.WhenAll(inFlight);
    }

    private async Task FinishAsync(Task sent, int batches, int pushes, List<AwaitedWork> awaited)
    {
        try
        {
            await sent;
        }
        catch (Exception ex)
        {
            EasyImTelemetry.BusErrors.Add(1);
            // Stored: the senders miss their acks and resend (deduped), the recipients get them on their next sync.
            _logger.LogError(ex, "Could not push a stored group of {Work} batches ({Pushes} pushes)", batches, pushes);
        }
        foreach (var work in awaited)
            work.Done.TrySetResult();
    }

    /// <summary>
    /// Writes a group whose first attempt failed (<paramref name="failure"/>), by <see cref="RowIsolation"/>: a resend
    /// caught by the (sender, client_msg_id) index is written again with the dedupe; a database that fails in a way
    /// that may pass (a lost connection, a restart, a deadlock) is retried for up to
    /// <see cref="MessagingOptions.StoreRetrySeconds"/>; rows the database refuses are narrowed down, one message or
    /// receipt at a time, and answered alone while the rest of the group is stored, in order. A hostile or broken
    /// message thus costs its sender a FAIL and everyone else a few more transactions, never a stall.
    /// </summary>
    private async Task<List<OutgoingPush>> WriteWithRetryAsync(List<WriteWork> group, Exception? failure)
    {
        var outcome = await RowIsolation.WriteAsync<WriteWork, List<OutgoingPush>>(Units(group),
            (slice, dedupe, ct) => WriteOnceAsync(slice, dedupe, ct), _retryPolicy, _time, failure, _stopping.Token);
        foreach (var (kind, units, error) in outcome.Failures)
        {
            EasyImTelemetry.DatabaseErrors.Add(1);
            if (kind == StoreErrorKind.Duplicate)
                _logger.LogDebug("Storing {Units} messages and receipts hit a stored one ({Error}); writing them again with the dedupe", units, error.Message);
            else
                _logger.LogWarning("Storing {Units} messages and receipts failed ({Kind}, {Error}: {Message})", units, kind, error.GetType().Name, error.Message);
        }
        var pushes = new List<OutgoingPush>();
        foreach (var slice in outcome.Slices)
        {
            if (slice.Stored)
            {
                pushes.AddRange(slice.Result!);
                continue;
            }
            foreach (var unit in slice.Units)
                pushes.AddRange(Refused(unit, slice.RefusedAs!.Value));
            // A warning, without the stack: a hostile sender can cause one per message.
            _logger.LogWarning(slice.RefusedAs == StoreErrorKind.Permanent
                    ? "The database refused {Units} messages or receipts ({Error}); their senders are answered FAIL and the rest is stored"
                    : "The database failed for {Units} messages or receipts for longer than the retry time ({Error}); their senders are answered FAIL and reconnect",
                slice.Units.Count, slice.Error?.Message);
        }
        return pushes;
    }

    /// <summary>
    /// The group as the smallest units the isolation may set apart: each chat message alone, each receipt alone.
    /// Only failed groups pay for this.
    /// </summary>
    private static List<WriteWork> Units(List<WriteWork> group)
    {
        var units = new List<WriteWork>(group.Sum(w => w.Size));
        foreach (var work in group)
        {
            switch (work)
            {
                case ChatWork chat:
                    units.AddRange((chat.Batch.Messages ?? []).Select(m => new ChatWork(chat.Batch with { Messages = [m] }, chat.Answers)));
                    break;
                case ReceiptWork receipt:
                    units.AddRange(receipt.Receipts.Select(r => new ReceiptWork([r])));
                    break;
            }
        }
        return units;
    }

    private async Task<List<OutgoingPush>> WriteOnceAsync(IReadOnlyList<WriteWork> group, bool dedupe, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        await using var scope = _scopes.CreateAsyncScope();
        var result = await scope.ServiceProvider.GetRequiredService<GroupWriter>().WriteAsync(group, dedupe, BeforeCommit, cancellationToken);
        LogGroup(group, result, started);
        return result.Pushes;
    }

    private void LogGroup(IReadOnlyList<WriteWork> group, GroupWriter.Result result, long started) =>
        _logger.LogDebug("Group of {Work} batches: {Stored} stored, {Refused} refused, {Cursors} cursors moved in {Elapsed} ms",
            group.Count, result.Stored, result.Refused, result.CursorsMoved, Stopwatch.GetElapsedTime(started).TotalMilliseconds);

    /// <summary>
    /// The answer to a chat message that was not stored; receipts are dropped (a later one covers them). One the
    /// database refuses is final: the sender must not send it again as it is. One given up while the database was
    /// failing may be sent again, and its connection is closed: later messages of that connection may be stored
    /// meanwhile, and its client resends in order after it reconnects (the chain refuses the rest until then).
    /// </summary>
    private List<OutgoingPush> Refused(WriteWork work, StoreErrorKind kind)
    {
        if (work is not ChatWork chat)
            return [];
        var pushes = new List<OutgoingPush>();
        foreach (var s in (chat.Batch.Messages ?? []).Where(s => s?.Message is not null))
        {
            if (kind == StoreErrorKind.Permanent)
            {
                pushes.Add(new OutgoingPush(new UserPush(s.SenderId,
                    ServerEvents.Fail(s.SenderId, s.Message, "the database refused this message; it was not stored"), OnlyConnectionId: s.ConnectionId),
                    chat.Batch.GatewayId));
                continue;
            }
            _chain.Break(s.ConnectionId);
            pushes.Add(new OutgoingPush(new UserPush(s.SenderId,
                ServerEvents.Fail(s.SenderId, s.Message, "the message could not be stored (the database is unavailable); reconnect and send again what got no SENT ack"),
                OnlyConnectionId: s.ConnectionId, Close: true), chat.Batch.GatewayId));
        }
        return pushes;
    }
}
