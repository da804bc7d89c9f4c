namespace EasyIm.LoadTest.Measuring;

/// <summary>What a delivered message was to the connection that received it.</summary>
public enum DeliveryResult
{
    /// <summary>The first delivery of this message.</summary>
    New,
    /// <summary>A message id this connection had received before (delivery is at least once).</summary>
    Duplicate,
    /// <summary>A new id for a message this connection had received under another id: stored twice.</summary>
    StoredTwice,
}

/// <summary>
/// What one receiving connection got from one sender, whose messages are numbered as in its
/// <see cref="SendLedger"/>. Counts, for measured messages only: duplicates (an id received again),
/// out-of-order deliveries (a new id whose conversation_seq is not above the highest seen before in
/// its conversation: the client would show it after a newer message), and messages stored twice.
/// </summary>
/// <remarks>Written by the connection's receive loop only.</remarks>
public sealed class ReceiveLedger
{
    private sealed class Conversation(byte[] id)
    {
        public byte[] Id { get; } = id;
        public ulong HighestSeq;
    }

    private readonly HashSet<long> _ids = [];
    private readonly List<Conversation> _conversations = [];
    private bool[] _received = new bool[256];

    /// <summary>Distinct measured messages received.</summary>
    public int Delivered { get; private set; }

    public int Duplicates { get; private set; }
    public int OutOfOrder { get; private set; }
    public int StoredTwice { get; private set; }

    /// <summary>The first measured duplicate, out-of-order delivery and second id, in words (evidence for the report).</summary>
    public string? FirstDuplicate { get; private set; }
    public string? FirstOutOfOrder { get; private set; }
    public string? FirstStoredTwice { get; private set; }

    public DeliveryResult Record(ReadOnlySpan<byte> conversationId, long id, ulong conversationSeq, int k, bool measured)
    {
        if (!_ids.Add(id))
        {
            if (measured && Duplicates++ == 0)
                FirstDuplicate = $"message {k} (id {id}, seq {conversationSeq}) arrived again";
            return DeliveryResult.Duplicate;
        }

        var conversation = Find(conversationId);
        if (conversationSeq <= conversation.HighestSeq && measured && OutOfOrder++ == 0)
            FirstOutOfOrder = $"message {k} (id {id}) with seq {conversationSeq} arrived after seq {conversation.HighestSeq}";
        conversation.HighestSeq = Math.Max(conversation.HighestSeq, conversationSeq);

        if (k >= _received.Length)
            Array.Resize(ref _received, Math.Max(k + 1, _received.Length * 2));
        if (_received[k])
        {
            if (measured && StoredTwice++ == 0)
                FirstStoredTwice = $"message {k} arrived again under a new id {id} (seq {conversationSeq})";
            return DeliveryResult.StoredTwice;
        }
        _received[k] = true;
        if (measured)
            Delivered++;
        return DeliveryResult.New;
    }

    /// <summary>Whether message <paramref name="k"/> of the sender arrived, under any id.</summary>
    public bool Has(int k) => k >= 0 && k < _received.Length && _received[k];

    private Conversation Find(ReadOnlySpan<byte> id)
    {
        foreach (var conversation in _conversations)
        {
            if (id.SequenceEqual(conversation.Id))
                return conversation;
        }
        var added = new Conversation(id.ToArray());
        _conversations.Add(added);
        return added;
    }
}
