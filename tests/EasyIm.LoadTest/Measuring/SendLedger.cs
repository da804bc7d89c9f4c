namespace EasyIm.LoadTest.Measuring;

/// <summary>What became of a SENT ack (or FAIL) the sender received.</summary>
public enum AckResult
{
    /// <summary>The first answer for the message, SENT.</summary>
    Acked,
    /// <summary>The first answer for the message, FAIL.</summary>
    Failed,
    /// <summary>The message had its answer already.</summary>
    Repeat,
    /// <summary>No message of that number was sent.</summary>
    Unknown,
}

/// <summary>
/// One sender's messages, numbered 0, 1, 2... in the order the client sent them: when each was
/// meant to leave, whether it falls in the measured interval, and the server's answer (the stored
/// id and conversation_seq from the SENT ack, or FAIL).
/// </summary>
/// <remarks>
/// One thread at a time sends (<see cref="Sent"/>) and one thread at a time takes answers
/// (<see cref="Acked"/>), and they may be different threads: entries live in fixed chunks that
/// never move, so an answer never races a resize, and counters each have one writer.
/// </remarks>
public sealed class SendLedger
{
    private const int ChunkBits = 12;
    private const int ChunkSize = 1 << ChunkBits;

    private const byte Waiting = 0;
    private const byte AckedState = 1;
    private const byte FailedState = 2;

    private struct Entry
    {
        public long IntendedTicks;
        public long Id;
        public ulong ConversationSeq;
        public byte State;
        public bool Measured;
    }

    private Entry[][] _chunks = new Entry[16][];
    private int _count;
    private int _measuredSent;
    private int _answered;
    private int _measuredAcked;
    private int _measuredFailed;
    private int _repeats;

    /// <summary>Messages sent so far; the next one gets this number.</summary>
    public int Count => Volatile.Read(ref _count);

    public int MeasuredSent => Volatile.Read(ref _measuredSent);
    public int MeasuredAcked => Volatile.Read(ref _measuredAcked);
    public int MeasuredFailed => Volatile.Read(ref _measuredFailed);

    /// <summary>Answers (SENT or FAIL) for messages that already had one.</summary>
    public int RepeatedAnswers => Volatile.Read(ref _repeats);

    /// <summary>Sent and not answered yet, measured or not.</summary>
    public int InFlight => Count - Volatile.Read(ref _answered);

    /// <summary>Records the next message; returns its number.</summary>
    public int Sent(long intendedTicks, bool measured)
    {
        var k = _count;
        var chunk = k >> ChunkBits;
        var chunks = _chunks;
        if (chunk == chunks.Length)
        {
            Array.Resize(ref chunks, chunks.Length * 2);
            Volatile.Write(ref _chunks, chunks);
        }
        chunks[chunk] ??= new Entry[ChunkSize];
        ref var entry = ref chunks[chunk][k & (ChunkSize - 1)];
        entry.IntendedTicks = intendedTicks;
        entry.Measured = measured;
        if (measured)
            _measuredSent++;
        Volatile.Write(ref _count, k + 1);
        return k;
    }

    /// <summary>The server's answer for message <paramref name="k"/>: SENT with its id and seq, or FAIL.</summary>
    public AckResult Acked(int k, long id, ulong conversationSeq, bool ok)
    {
        if (k < 0 || k >= Count)
            return AckResult.Unknown;
        ref var entry = ref Slot(k);
        if (entry.State != Waiting)
        {
            _repeats++;
            return AckResult.Repeat;
        }
        entry.Id = id;
        entry.ConversationSeq = conversationSeq;
        entry.State = ok ? AckedState : FailedState;
        if (entry.Measured)
        {
            if (ok)
                _measuredAcked++;
            else
                _measuredFailed++;
        }
        Volatile.Write(ref _answered, _answered + 1);
        return ok ? AckResult.Acked : AckResult.Failed;
    }

    public long IntendedTicks(int k) => Slot(k).IntendedTicks;

    public bool IsMeasured(int k) => Slot(k).Measured;

    /// <summary>Acked SENT (not FAIL, not waiting).</summary>
    public bool IsAcked(int k) => Slot(k).State == AckedState;

    public long AckedId(int k) => Slot(k).Id;

    /// <summary>
    /// Measured messages whose acked conversation_seq is not above that of every message the client
    /// sent before it: the server numbered them out of the client's order.
    /// </summary>
    public int AckOrderViolations()
    {
        var violations = 0;
        ulong highest = 0;
        var count = Count;
        for (var k = 0; k < count; k++)
        {
            ref var entry = ref Slot(k);
            if (entry.State != AckedState)
                continue;
            if (entry.ConversationSeq <= highest && entry.Measured)
                violations++;
            highest = Math.Max(highest, entry.ConversationSeq);
        }
        return violations;
    }

    /// <summary>The first measured message the server numbered out of the client's order, in words; null when none was.</summary>
    public string? FirstAckOrderViolation()
    {
        ulong highest = 0;
        var highestK = -1;
        var count = Count;
        for (var k = 0; k < count; k++)
        {
            ref var entry = ref Slot(k);
            if (entry.State != AckedState)
                continue;
            if (entry.ConversationSeq <= highest && entry.Measured)
                return $"message {k} got conversation_seq {entry.ConversationSeq}, below the {highest} of message {highestK} sent before it";
            if (entry.ConversationSeq > highest)
                (highest, highestK) = (entry.ConversationSeq, k);
        }
        return null;
    }

    private ref Entry Slot(int k) => ref Volatile.Read(ref _chunks)[k >> ChunkBits][k & (ChunkSize - 1)];
}
