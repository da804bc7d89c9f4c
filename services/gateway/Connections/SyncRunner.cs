using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Messaging;
using EasyIm.Gateway.Wire;
using EasyIm.Hosting.Bus;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Connections;

/// <summary>
/// Runs a connection's syncs (the connect-time one, the client's SYNCs, the one after a broker fault)
/// by asking messaging for one page at a time (<see cref="SyncConversations"/> as a request): each page
/// is written as the client reads, no faster (it waits for the connection's queue to fall below half its
/// bounds before each frame), and the next is asked for only then, so a sync of any length costs a page
/// of memory, a client that does not read stalls only its own sync, and messaging reads nothing for a
/// connection that is gone.
/// <para>
/// One sync runs per connection. A SYNC that comes while one runs is not refused: it waits, and a later
/// one replaces it (the client's newest cursors), so it runs once the running one is done; each run ends
/// with its SYNC done event.
/// </para>
/// <para>
/// What a user's syncs replay is budgeted in messages (<see cref="UserBudgets.WaitForReplayAsync"/>): one
/// message's worth before each page is asked for, the rest of the page after it is written, whether or not
/// the connection is still there. Past the budget a sync waits; a user reconnecting or sending SYNC from 0
/// in a loop replays at the budget's rate, not a whole history per try.
/// </para>
/// </summary>
public sealed class SyncRunner(IBus bus, GatewayOptions options, UserBudgets budgets, TimeProvider time, ILogger logger)
{
    /// <summary>A connection's sync state, guarded by its own lock.</summary>
    public sealed class State
    {
        internal readonly Lock Lock = new();
        internal bool Running;
        internal bool Waiting;
        internal IReadOnlyDictionary<string, ulong>? WaitingCursors;
        internal long? WaitingUpdatesAfter;
        internal long? WaitingAfter;
    }

    /// <summary>Asks messaging again after a timeout or a failure, after these (the last repeats), while the connection lives.</summary>
    private static readonly TimeSpan[] Backoff = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(15)];
    private const int MaxAttempts = 12;

    /// <summary>The user budgets its replays draw from.</summary>
    internal UserBudgets Budgets => budgets;

    private readonly IRequestClient<SyncConversations> _client = bus.CreateRequestClient<SyncConversations>(BusSetup.RequestTimeout);
    private readonly IRequestClient<GetUserUpdates> _updates = bus.CreateRequestClient<GetUserUpdates>(BusSetup.RequestTimeout);

    /// <summary>Events of the update stream asked for at once by a SYNC with <c>updates_after</c>.</summary>
    public const int UpdatesPage = 100;

    /// <summary>
    /// Syncs the connection after <paramref name="cursors"/> (null: after the user's ARRIVED cursors).
    /// Returns false when a sync of the connection is running: this one then runs after it, unless a
    /// newer one comes first and takes its place.
    /// </summary>
    /// <param name="updatesAfter">
    /// When given (a SYNC's <c>updates_after</c>), the user's update-stream events after that position are written first,
    /// before the messages.
    /// </param>
    /// <param name="after">When given (a SYNC's <c>after</c>), the messages after that position of the user's update stream, instead of <paramref name="cursors"/>.</param>
    public bool Request(LongConnection connection, IReadOnlyDictionary<string, ulong>? cursors, long? updatesAfter = null, long? after = null)
    {
        var state = connection.Syncs;
        lock (state.Lock)
        {
            if (state.Running)
            {
                state.Waiting = true;
                state.WaitingCursors = cursors;
                state.WaitingUpdatesAfter = updatesAfter;
                state.WaitingAfter = after;
                return false;
            }
            state.Running = true;
        }
        _ = RunAsync(connection, cursors, updatesAfter, after);
        return true;
    }

    private async Task RunAsync(LongConnection connection, IReadOnlyDictionary<string, ulong>? cursors, long? updatesAfter, long? afterPosition)
    {
        var state = connection.Syncs;
        while (true)
        {
            try
            {
                // A position (after) covers the events too: they come first, then the messages after the same position.
                if ((updatesAfter ?? afterPosition) is { } after)
                    await UpdatesAsync(connection, after).ConfigureAwait(false);
                await SyncAsync(connection, cursors, afterPosition).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (connection.IsClosing)
            {
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "The sync of connection {ConnectionId} failed", connection.Id);
            }
            lock (state.Lock)
            {
                if (!state.Waiting || connection.IsClosing)
                {
                    state.Running = false;
                    state.Waiting = false;
                    state.WaitingCursors = null;
                    state.WaitingUpdatesAfter = null;
                    state.WaitingAfter = null;
                    return;
                }
                cursors = state.WaitingCursors;
                updatesAfter = state.WaitingUpdatesAfter;
                afterPosition = state.WaitingAfter;
                state.Waiting = false;
                state.WaitingCursors = null;
                state.WaitingUpdatesAfter = null;
                state.WaitingAfter = null;
            }
        }
    }

    /// <summary>
    /// The user's update-stream events after <paramref name="after"/>, a page at a time, written as the client reads and
    /// paid for from the replay budget like messages. Not retried: a client that misses them sees the gap and asks again.
    /// </summary>
    private async Task UpdatesAsync(LongConnection connection, long after)
    {
        while (!connection.IsClosing)
        {
            if (!await budgets.WaitForReplayAsync(connection.UserId, 1, connection.Closing).ConfigureAwait(false))
                return;
            var response = await _updates.GetResponse<UserUpdatesPage, RequestRejected>(new GetUserUpdates(connection.UserId, after, UpdatesPage), connection.Closing)
                .ConfigureAwait(false);
            if (!response.Is(out Response<UserUpdatesPage>? answer))
                return;
            var page = answer.Message;
            foreach (var update in page.Updates)
            {
                await connection.WhenQueueBelowAsync(options.SendQueueCapacity / 2, options.SendQueueBytes / 2, connection.Closing).ConfigureAwait(false);
                connection.Send(MsgCodec.FromWire(update));
            }
            if (!await budgets.WaitForReplayAsync(connection.UserId, page.Updates.Count - 1, CancellationToken.None).ConfigureAwait(false)
                || !page.More || page.Updates.Count == 0 || page.Updates[^1].Event is not { Position: > 0 } lastEvent)
                return;
            after = lastEvent.Position;
        }
    }

    private async Task SyncAsync(LongConnection connection, IReadOnlyDictionary<string, ulong>? cursors, long? afterPosition)
    {
        var userId = connection.UserId;
        SyncResume? resume = null;
        var failures = 0;
        while (!connection.IsClosing)
        {
            if (!await budgets.WaitForReplayAsync(userId, 1, connection.Closing).ConfigureAwait(false))
                return;
            SyncPage page;
            try
            {
                var response = await _client.GetResponse<SyncPage>(new SyncConversations(userId, connection.Id, cursors, Resume: resume, After: afterPosition), connection.Closing).ConfigureAwait(false);
                page = response.Message;
                failures = 0;
            }
            catch (Exception ex) when (ex is not OperationCanceledException && !connection.IsClosing)
            {
                // Messaging (or the broker) is away or failing: ask again for the same page while the connection lives (the
                // connect-time sync's chat hold ends on its own timeout meanwhile).
                if (++failures >= MaxAttempts)
                {
                    logger.LogWarning("Connection {ConnectionId} gets no sync: messaging did not answer {Attempts} times", connection.Id, failures);
                    return;
                }
                logger.LogInformation("The sync of connection {ConnectionId} waits for messaging ({Error}); asking again", connection.Id, ex.GetType().Name);
                await Task.Delay(Backoff[Math.Min(failures, Backoff.Length) - 1], time, connection.Closing).ConfigureAwait(false);
                continue;
            }
            foreach (var push in page.Pushes)
            {
                if (push.OnlyConnectionId != connection.Id)
                    continue;
                // Half the bounds: live pushes still fit beside the page, and the sync alone never fills the queue.
                await connection.WhenQueueBelowAsync(options.SendQueueCapacity / 2, options.SendQueueBytes / 2, connection.Closing).ConfigureAwait(false);
                connection.SyncGate.Deliver(push, new OutboundFrame(MsgCodec.FromWire(push.Message)));
            }
            // The rest of the page's cost, paid even if the connection closes meanwhile (else reconnecting
            // would be a way not to pay): the connection's next page, and the user's other syncs, wait for it.
            if (!await budgets.WaitForReplayAsync(userId, page.Pushes.Count - 1, CancellationToken.None).ConfigureAwait(false) || page.Resume is null)
                return;
            connection.SyncGate.SyncProgressed();
            resume = page.Resume;
        }
    }
}
