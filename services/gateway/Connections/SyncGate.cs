using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Wire;

namespace EasyIm.Gateway.Connections;

/// <summary>
/// Keeps each conversation in seq order for a connection around its connect-time sync. The sync
/// brings what was stored before it read the database; a message stored later may be pushed live,
/// or replayed, before the sync's older pages arrive. So from the handshake until the sync's SYNC
/// event, chat messages that are not the sync's own are held back (other frames pass), then written,
/// less those the sync already carried. Bounded: past <c>maxHeld</c> held frames, or
/// <c>timeout</c> without the SYNC event (messaging is slow or down), everything held is written.
/// </summary>
public sealed class SyncGate(Func<Msg, bool> send, TimeSpan timeout, int maxHeld) : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ulong> _synced = new(StringComparer.Ordinal);
    private List<Msg>? _held;
    private Timer? _timer;

    public bool Holding
    {
        get
        {
            lock (_lock)
                return _held is not null;
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
            _timer = new Timer(_ => Release(), null, timeout, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Writes a push to the connection now, or holds it until the sync is done.</summary>
    public void Deliver(UserPush push, Msg frame)
    {
        lock (_lock)
        {
            if (_held is null)
            {
                send(frame);
                return;
            }
            if (push.Sync)
            {
                send(frame);
                if (IsChat(frame))
                    _synced[frame.ConversationId] = Math.Max(_synced.GetValueOrDefault(frame.ConversationId), frame.ConversationSeq);
                else
                    ReleaseLocked(); // the SYNC event closes the sync
                return;
            }
            if (!IsChat(frame))
            {
                send(frame);
                return;
            }
            if (_held.Count >= maxHeld)
            {
                ReleaseLocked();
                send(frame);
                return;
            }
            _held.Add(frame);
        }
    }

    private void Release()
    {
        lock (_lock)
            ReleaseLocked();
    }

    private void ReleaseLocked()
    {
        if (_held is null)
            return;
        var held = _held;
        _held = null;
        _timer?.Dispose();
        _timer = null;
        foreach (var frame in held)
        {
            // Seqs are gap-free and given in commit order: one at or below what the sync carried was in it.
            if (_synced.TryGetValue(frame.ConversationId, out var synced) && frame.ConversationSeq <= synced)
                continue;
            send(frame);
        }
        _synced.Clear();
    }

    private static bool IsChat(Msg frame) =>
        frame.MsgType is >= Msg.Types.MsgType.Text and <= Msg.Types.MsgType.Video
        && frame.ConversationSeq > 0 && frame.ConversationId.Length > 0;

    public void Dispose()
    {
        lock (_lock)
        {
            _timer?.Dispose();
            _timer = null;
        }
    }
}
