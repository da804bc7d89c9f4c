using System.Text.Json;
using EasyIm.Contracts.Wire;

namespace EasyIm.Client;

/// <summary>
/// A device's place in the user's update stream (docs/protocol.md, "Positions"), as the frames it received say: every
/// message, receipt and friend or group event carries the user's next position (<c>position</c> on a message,
/// <c>data.position</c> on an event), and a SYNC <c>done</c> after a position gives <c>head</c>. <see cref="Value"/> is the
/// position up to which every update arrived: the <c>after</c> of the next connection or SYNC. A later position that
/// comes first waits in <see cref="Ahead"/> (a gap: one lost, or still on its way); <see cref="GapOpen"/> says so.
/// </summary>
public sealed class StreamPosition
{
    private readonly Lock _lock = new();
    private readonly SortedSet<ulong> _ahead = [];
    private ulong _value;
    private bool _known;

    /// <param name="after">Where the device stands (0 with nothing received yet); null: not known, and the first update
    /// received says where the stream starts for it.</param>
    public StreamPosition(ulong? after = null)
    {
        _value = after ?? 0;
        _known = after is not null;
    }

    /// <summary>The position up to which every update arrived (0: none, or not known yet).</summary>
    public ulong Value
    {
        get
        {
            lock (_lock)
                return _value;
        }
    }

    /// <summary>An update past <see cref="Value"/> + 1 arrived while the one before it has not.</summary>
    public bool GapOpen
    {
        get
        {
            lock (_lock)
                return _ahead.Count > 0;
        }
    }

    /// <summary>The positions that arrived past the gap, lowest first.</summary>
    public IReadOnlyList<ulong> Ahead
    {
        get
        {
            lock (_lock)
                return [.. _ahead];
        }
    }

    /// <summary>Notes a frame received: its position, or a SYNC done's head (everything up to it arrived).</summary>
    public void Note(Msg frame)
    {
        ulong position = frame.Position, head = 0;
        if (frame.MsgType == Msg.Types.MsgType.Event && frame.Content.Length > 0 && frame.Content.Contains("\"data\"", StringComparison.Ordinal))
            (position, head) = FromEvent(frame.Content);
        lock (_lock)
        {
            if (head > 0)
            {
                _value = Math.Max(_value, head);
                _known = true;
            }
            else if (position == 0)
                return;
            else if (!_known)
            {
                _value = position;
                _known = true;
            }
            else if (position > _value)
                _ahead.Add(position);
            _ahead.RemoveWhere(p => p <= _value);
            while (_ahead.Remove(_value + 1))
                _value++;
        }
    }

    private static (ulong Position, ulong Head) FromEvent(string content)
    {
        try
        {
            using var doc = JsonDocument.Parse(content);
            if (!doc.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
                return (0, 0);
            var position = data.TryGetProperty("position", out var p) && p.TryGetUInt64(out var at) ? at : 0;
            var head = data.TryGetProperty("key", out var key) && key.ValueEquals("SYNC") && data.TryGetProperty("head", out var h) && h.TryGetUInt64(out var top) ? top : 0;
            return (position, head);
        }
        catch (JsonException)
        {
            return (0, 0);
        }
    }
}
