using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;

namespace EasyIm.Gateway.Connections;

/// <summary>
/// Writes each conversation to one connection in seq order. Pushes can arrive out of order: a live
/// message may overtake the connect-time sync's older pages, or a replay of a message a messaging
/// replica routed before it heard of the connection may come after newer ones.
/// <list type="bullet">
/// <item>From the handshake until the connect-time SYNC event, chat messages that are not the sync's
/// own are held back; the SYNC event says up to which seq the sync covered each conversation.</item>
/// <item>After that, per conversation, the next seq is written at once (a conversation the sync did not
/// cover, such as a group joined since, starts at its first live message) and later ones wait for the gap
/// to fill (seqs are gap-free per conversation). One below the next is written too: a duplicate the
/// client drops by id, or the SENT ack of a resend, which the client needs.</item>
/// <item>A gap that stays open for <c>gapTimeout</c> is a message that was stored but whose push was lost
/// (messaging died between its commit and its push): the gate asks for the gapped conversations again
/// from the last seq written (a gap fill, <see cref="FillGaps"/>), and the fill's pages and closing
/// <see cref="UserPush.SyncedThrough"/> close the gap, so the connection still sees every conversation
/// in seq order; a conversation the answer leaves out (not the user's, nothing stored) has nothing to
/// wait for, and what waits there is written at once. While messaging is away the gate asks again after 1×, 2× and 4× <c>gapTimeout</c> more
/// (the asks wait in messaging's queue).</item>
/// <item>Positions (issue 14): every update of the user's stream a push carries (a message's, an event's, a receipt's)
/// is noted. A position that comes while an earlier one has not is a gap in the user's stream, whatever the
/// conversation: one left open for <c>gapTimeout</c> is asked for (<see cref="FillPositions"/>, the missing range only),
/// so a message whose push was lost reaches the connection as soon as any later update does, even in a conversation
/// nothing else is written to. The per-conversation order above still decides when a chat message is written.</item>
/// <item>Bounded: a gap still open after <see cref="FillAttempts"/> fills (about 30 s), more than
/// <c>maxHeld</c> frames (or <c>maxHeldBytes</c>) waiting, or no SYNC event within <c>syncTimeout</c> (of the handshake or of the
/// sync's last page, <see cref="SyncProgressed"/>) writes what waits, in order
/// (the client then has every message, but one may come after later ones).</item>
/// </list>
/// </summary>
public sealed class SyncGate : IDisposable
{
    private sealed class Conversation
    {
        public ulong Next { get; set; } = 1;
        public SortedDictionary<ulong, OutboundFrame> Waiting { get; } = [];
    }

    private readonly Func<OutboundFrame, bool> _send;
    private readonly TimeSpan _syncTimeout;
    private readonly TimeSpan _gapTimeout;
    private readonly int _maxHeld;
    private readonly long _maxHeldBytes;
    private readonly Lock _lock = new();
    // Allocated when the first chat message comes: most connections are idle most of the time.
    private Dictionary<string, Conversation>? _conversations;
    private List<OutboundFrame>? _held;
    private int _waiting;
    // What the held and the waiting frames weigh (protobuf sizes): bounded like the connection's send queue.
    private long _heldBytes;
    private long _waitingBytes;
    private Timer? _syncTimer;
    private Timer? _gapTimer;
    private int _fills;
    // The conversations the last gap fill asked for, until its answer comes.
    private HashSet<string>? _asked;
    // The user's stream as written here: the next position expected (0: not known yet) and those seen past it.
    private long _nextPosition;
    private SortedSet<long>? _aheadPositions;
    private Timer? _positionTimer;
    private int _positionFills;

    /// <summary>Positions seen past a gap, at most: more and the gate gives up on the gap (the client can still ask).</summary>
    public const int MaxAheadPositions = 4096;

    /// <summary>Gap fills asked for one open gap before the gate gives up and writes what waits.</summary>
    public const int FillAttempts = 4;

    /// <param name="maxHeldBytes">Bound on what the held (or the waiting) frames weigh: past it they are written
    /// as they are, so that holding back never costs more than the connection's send queue may.</param>
    public SyncGate(Func<OutboundFrame, bool> send, TimeSpan syncTimeout, int maxHeld, TimeSpan? gapTimeout = null, long maxHeldBytes = long.MaxValue)
    {
        _send = send;
        _syncTimeout = syncTimeout;
        _maxHeld = maxHeld;
        _maxHeldBytes = maxHeldBytes;
        _gapTimeout = gapTimeout ?? TimeSpan.FromSeconds(2);
    }

    /// <summary>
    /// Asks messaging for the named conversations after the given seqs (the last written to this
    /// connection), for this connection only; unset, an open gap is given up on at its first timeout.
    /// Called outside the gate's lock, from a timer thread.
    /// </summary>
    public Action<IReadOnlyDictionary<string, ulong>>? FillGaps { get; set; }

    /// <summary>
    /// Asks messaging for the updates of the user's stream after the first position (the last written in order) up to
    /// the second (the one before the first seen past the gap), for this connection only. Called outside the lock.
    /// </summary>
    public Action<long, long>? FillPositions { get; set; }

    /// <summary>Positions were seen past one that has not come yet.</summary>
    public bool PositionGapOpen
    {
        get
        {
            lock (_lock)
                return _aheadPositions is { Count: > 0 };
        }
    }

    /// <summary>The next position of the user's stream this connection expects (0: none known yet).</summary>
    public long NextPosition
    {
        get
        {
            lock (_lock)
                return _nextPosition;
        }
    }

    /// <summary>Holding back for the connect-time sync.</summary>
    public bool Holding
    {
        get
        {
            lock (_lock)
                return _held is not null;
        }
    }

    /// <summary>Frames waiting for a gap in their conversation to fill.</summary>
    public int Waiting
    {
        get
        {
            lock (_lock)
                return _waiting;
        }
    }

    /// <summary>The handshake succeeded: hold chat messages until the sync is done.</summary>
    public void Begin()
    {
        lock (_lock)
        {
            if (_held is not null)
                return;
            _held = [];
            _syncTimer = new Timer(_ => EndHolding(null), null, _syncTimeout, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// Writes a push to the connection now, or holds it until it can be written in order. The frame
    /// may go to other connections too: it is only read here, never changed.
    /// </summary>
    /// <param name="position">The update's position in the user's stream (0: none, e.g. a large group's message).</param>
    public void Deliver(UserPush push, OutboundFrame frame, long position = 0)
    {
        lock (_lock)
        {
            if (push.Sync)
            {
                // The sync's own pages come in order; its SYNC event says where each conversation stands.
                // A gap fill's closing event is for the gate only: the client asked for no sync.
                if (!push.GapFill)
                    _send(frame);
                if (!IsChat(frame))
                {
                    // A sync after a position (or a position fill) brought every update up to its head.
                    var head = push.Message.Event is SyncDoneEvent { Head: > 0 } done ? done.Head : 0;
                    if (!push.GapFill)
                        EndHoldingLocked(push.SyncedThrough, head);
                    else
                    {
                        if (head > 0)
                            CoveredLocked(push.SyncedThrough); // a position fill: only the conversations it wrote
                        else
                            FillAnsweredLocked(push.SyncedThrough);
                        PositionsCoveredLocked(head);
                    }
                }
                return;
            }
            if (position > 0)
                PositionSeenLocked(position);
            if (!IsChat(frame))
            {
                _send(frame);
                return;
            }
            if (_held is not null)
            {
                var size = frame.Msg.CalculateSize();
                if (_held.Count >= _maxHeld || _heldBytes + size > _maxHeldBytes)
                    EndHoldingLocked(null);
                else
                {
                    _held.Add(frame);
                    _heldBytes += size;
                    return;
                }
            }
            Order(frame);
        }
    }

    /// <summary>
    /// A page of the connect-time sync was written: the hold restarts its timeout, so that a long sync the
    /// client reads slowly (pages wait for it) is not overtaken by live messages while it still progresses.
    /// </summary>
    public void SyncProgressed()
    {
        lock (_lock)
            _syncTimer?.Change(_syncTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Notes a position written (or about to be): the next one moves on, a later one leaves a gap behind it.</summary>
    private void PositionSeenLocked(long position)
    {
        if (_nextPosition == 0)
        {
            // Not known yet: the connect-time sync's head will say where the stream starts for this connection, if it
            // had a position; else the first live update does.
            if (_held is not null)
                (_aheadPositions ??= []).Add(position);
            else
                _nextPosition = position + 1;
            return;
        }
        if (position < _nextPosition)
            return;
        if (position == _nextPosition)
        {
            _nextPosition++;
            AbsorbPositionsLocked();
            return;
        }
        (_aheadPositions ??= []).Add(position);
        if (_aheadPositions.Count > MaxAheadPositions)
        {
            _nextPosition = _aheadPositions.Max + 1;
            _aheadPositions.Clear();
        }
        AbsorbPositionsLocked();
    }

    /// <summary>Every position up to <paramref name="head"/> reached the connection (a sync's or a fill's head; 0: nothing known).</summary>
    private void PositionsCoveredLocked(long head)
    {
        if (head > 0)
            _nextPosition = Math.Max(_nextPosition, head + 1);
        else if (_nextPosition == 0 && _held is null && _aheadPositions is { Count: > 0 } seen)
            _nextPosition = seen.Min; // a sync without a position: the stream starts at the first live update
        if (_nextPosition == 0)
            return;
        _aheadPositions?.RemoveWhere(p => p < _nextPosition);
        AbsorbPositionsLocked();
    }

    /// <summary>Moves past the positions seen in order; a gap still open waits for its timer (started here if need be).</summary>
    private void AbsorbPositionsLocked()
    {
        while (_aheadPositions is { Count: > 0 } ahead && ahead.Remove(_nextPosition))
            _nextPosition++;
        if (_aheadPositions is { Count: > 0 })
        {
            _positionTimer ??= new Timer(_ => PositionGapTimedOut(), null, _gapTimeout, Timeout.InfiniteTimeSpan);
            return;
        }
        _positionTimer?.Dispose();
        _positionTimer = null;
        _positionFills = 0;
    }

    /// <summary>A gap in the positions stayed open: ask for exactly what is missing, or past the attempts give up on it.</summary>
    private void PositionGapTimedOut()
    {
        Action<long, long>? fill;
        long after, upTo;
        lock (_lock)
        {
            _positionTimer?.Dispose();
            _positionTimer = null;
            if (_aheadPositions is not { Count: > 0 } ahead || _nextPosition == 0)
                return;
            fill = FillPositions;
            if (fill is null || _positionFills >= FillAttempts)
            {
                // Given up: the next gap (if any) starts afresh.
                _nextPosition = ahead.Min;
                _positionFills = 0;
                AbsorbPositionsLocked();
                return;
            }
            _positionFills++;
            (after, upTo) = (_nextPosition - 1, ahead.Min - 1);
            _positionTimer = new Timer(_ => PositionGapTimedOut(), null, _gapTimeout * (1 << (_positionFills - 1)), Timeout.InfiniteTimeSpan);
        }
        fill(after, upTo);
    }

    private void EndHolding(IReadOnlyDictionary<string, ulong>? through)
    {
        lock (_lock)
            EndHoldingLocked(through);
    }

    /// <param name="head">The sync's head, when it was after a position: every update up to it reached the connection.</param>
    private void EndHoldingLocked(IReadOnlyDictionary<string, ulong>? through, long head = 0)
    {
        CoveredLocked(through);
        ReleaseHeldLocked();
        PositionsCoveredLocked(head);
    }

    private void ReleaseHeldLocked()
    {
        if (_held is null)
            return;
        var held = _held;
        _held = null;
        _heldBytes = 0;
        _syncTimer?.Dispose();
        _syncTimer = null;
        // In seq order (stable, so each conversation's own order): a conversation the sync did not
        // cover starts at its first frame, which must be its lowest.
        foreach (var frame in held.OrderBy(f => f.Msg.ConversationSeq))
            Order(frame);
    }

    /// <summary>
    /// A sync or a gap fill wrote its pages (in order, as they came): each conversation it covered goes on
    /// after its last seq, and what waited for a gap it covered goes out, in order. A waiting frame below
    /// that is written too: a duplicate the client drops by id, or a SENT ack it needs.
    /// </summary>
    private void CoveredLocked(IReadOnlyDictionary<string, ulong>? through)
    {
        foreach (var (id, last) in through ?? new Dictionary<string, ulong>())
        {
            var conversation = Of(id);
            conversation.Next = Math.Max(conversation.Next, last + 1);
            while (conversation.Waiting.Count > 0 && conversation.Waiting.First() is var (seq, frame) && seq <= conversation.Next)
            {
                conversation.Waiting.Remove(seq);
                _waiting--;
                _waitingBytes -= frame.Msg.CalculateSize();
                _send(frame);
                conversation.Next = Math.Max(conversation.Next, seq + 1);
            }
        }
        StopGapTimerIfIdle();
    }

    /// <summary>
    /// A gap fill's answer: the conversations it covered go on as after a sync. One it asked for and that
    /// messaging did not answer for (not the user's, or nothing stored there) has no message to wait for:
    /// what waits there is written now, in order.
    /// </summary>
    private void FillAnsweredLocked(IReadOnlyDictionary<string, ulong>? through)
    {
        var asked = _asked;
        _asked = null;
        foreach (var id in asked ?? [])
        {
            if (through?.ContainsKey(id) != true && _conversations?.TryGetValue(id, out var conversation) == true)
                ReleaseLocked(conversation);
        }
        CoveredLocked(through);
    }

    private void Order(OutboundFrame frame)
    {
        var seq = frame.Msg.ConversationSeq;
        _conversations ??= new Dictionary<string, Conversation>(StringComparer.Ordinal);
        if (!_conversations.TryGetValue(frame.Msg.ConversationId, out var conversation))
        {
            // Not in the connect-time sync: a group the user joined since (or a new conversation, at 1).
            // Its earlier messages are history from before the user was in it, not a gap: it starts here.
            _conversations[frame.Msg.ConversationId] = conversation = new Conversation { Next = seq };
        }
        if (seq < conversation.Next)
        {
            _send(frame);
            return;
        }
        if (seq > conversation.Next)
        {
            if (conversation.Waiting.TryAdd(seq, frame))
            {
                _waiting++;
                _waitingBytes += frame.Msg.CalculateSize();
                if (_waiting > _maxHeld || _waitingBytes > _maxHeldBytes)
                {
                    FlushAllLocked();
                    return;
                }
            }
            _gapTimer ??= new Timer(_ => GapTimedOut(), null, _gapTimeout, Timeout.InfiniteTimeSpan);
            return;
        }
        _send(frame);
        conversation.Next++;
        while (conversation.Waiting.Remove(conversation.Next, out var next))
        {
            _waiting--;
            _waitingBytes -= next.Msg.CalculateSize();
            _send(next);
            conversation.Next++;
        }
        StopGapTimerIfIdle();
    }

    /// <summary>Every gap filled: the timer and the fills belong to the next gap, not an old one.</summary>
    private void StopGapTimerIfIdle()
    {
        if (_waiting != 0)
            return;
        _gapTimer?.Dispose();
        _gapTimer = null;
        _fills = 0;
    }

    /// <summary>A gap stayed open: ask for what is missing, or past the attempts (or with no one to ask) give up.</summary>
    private void GapTimedOut()
    {
        Dictionary<string, ulong> after;
        Action<IReadOnlyDictionary<string, ulong>>? fill;
        lock (_lock)
        {
            _gapTimer?.Dispose();
            _gapTimer = null;
            if (_waiting == 0)
                return;
            fill = FillGaps;
            if (fill is null || _fills >= FillAttempts)
            {
                FlushAllLocked();
                return;
            }
            _fills++;
            after = _conversations!.Where(c => c.Value.Waiting.Count > 0)
                .ToDictionary(c => c.Key, c => c.Value.Next - 1, StringComparer.Ordinal);
            _asked = [.. after.Keys];
            // 1, 2, 4, 8 × the gap timeout before the next ask or the give-up: messaging may be restarting.
            _gapTimer = new Timer(_ => GapTimedOut(), null, _gapTimeout * (1 << (_fills - 1)), Timeout.InfiniteTimeSpan);
        }
        fill(after);
    }

    /// <summary>Gives up on the open gaps: writes what waits, in order; a missing one that turns up later is written then.</summary>
    private void FlushAllLocked()
    {
        _gapTimer?.Dispose();
        _gapTimer = null;
        foreach (var conversation in _conversations?.Values ?? Enumerable.Empty<Conversation>())
            ReleaseLocked(conversation);
    }

    /// <summary>Writes what waits in the conversation, in order, gap or not; it goes on after the last of it.</summary>
    private void ReleaseLocked(Conversation conversation)
    {
        foreach (var (seq, frame) in conversation.Waiting)
        {
            _send(frame);
            _waitingBytes -= frame.Msg.CalculateSize();
            conversation.Next = seq + 1;
        }
        _waiting -= conversation.Waiting.Count;
        conversation.Waiting.Clear();
    }

    private Conversation Of(string id)
    {
        _conversations ??= new Dictionary<string, Conversation>(StringComparer.Ordinal);
        if (!_conversations.TryGetValue(id, out var conversation))
            _conversations[id] = conversation = new Conversation();
        return conversation;
    }

    private static bool IsChat(OutboundFrame outbound) => IsChat(outbound.Msg);

    private static bool IsChat(Msg frame) =>
        frame.MsgType is >= Msg.Types.MsgType.Text and <= Msg.Types.MsgType.Video
        && frame.ConversationSeq > 0 && frame.ConversationId.Length > 0;

    public void Dispose()
    {
        lock (_lock)
        {
            _syncTimer?.Dispose();
            _syncTimer = null;
            _gapTimer?.Dispose();
            _gapTimer = null;
            _positionTimer?.Dispose();
            _positionTimer = null;
        }
    }
}
