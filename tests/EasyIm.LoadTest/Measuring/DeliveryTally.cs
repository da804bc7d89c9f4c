namespace EasyIm.LoadTest.Measuring;

/// <summary>
/// The fate of the measured messages of a run, once sending stopped and the drain ended.
/// <list type="bullet">
/// <item><c>Lost</c>: acked SENT, yet a recipient never received it (counted per recipient).</item>
/// <item><c>Unacked</c>: sent, no answer at all.</item>
/// <item><c>Failed</c>: answered FAIL.</item>
/// <item><c>Duplicates</c>: a message id a connection had received before.</item>
/// <item><c>OutOfOrder</c>: a recipient got a new message below the highest conversation_seq it had seen.</item>
/// <item><c>AckOutOfOrder</c>: the server's conversation_seqs in the acks do not rise in the client's send order.</item>
/// <item><c>StoredTwice</c>: one client message reached a recipient under two ids.</item>
/// </list>
/// </summary>
public readonly record struct DeliveryTally(
    long Sent, long Acked, long Failed, long Unacked, long Expected, long Delivered,
    long Lost, long Duplicates, long OutOfOrder, long AckOutOfOrder, long StoredTwice, long RepeatedAcks)
{
    /// <summary>One sender and the connections that should receive every message it sends.</summary>
    public static DeliveryTally Of(SendLedger sender, IReadOnlyList<ReceiveLedger> recipients)
    {
        long lost = 0;
        var count = sender.Count;
        for (var k = 0; k < count; k++)
        {
            if (!sender.IsMeasured(k) || !sender.IsAcked(k))
                continue;
            foreach (var recipient in recipients)
            {
                if (!recipient.Has(k))
                    lost++;
            }
        }
        long delivered = 0, duplicates = 0, outOfOrder = 0, storedTwice = 0;
        foreach (var recipient in recipients)
        {
            delivered += recipient.Delivered;
            duplicates += recipient.Duplicates;
            outOfOrder += recipient.OutOfOrder;
            storedTwice += recipient.StoredTwice;
        }
        var sent = sender.MeasuredSent;
        var acked = sender.MeasuredAcked;
        var failed = sender.MeasuredFailed;
        return new DeliveryTally(sent, acked, failed, sent - acked - failed, (long)acked * recipients.Count, delivered,
            lost, duplicates, outOfOrder, sender.AckOrderViolations(), storedTwice, sender.RepeatedAnswers);
    }

    public static DeliveryTally operator +(DeliveryTally a, DeliveryTally b) => new(
        a.Sent + b.Sent, a.Acked + b.Acked, a.Failed + b.Failed, a.Unacked + b.Unacked, a.Expected + b.Expected,
        a.Delivered + b.Delivered, a.Lost + b.Lost, a.Duplicates + b.Duplicates, a.OutOfOrder + b.OutOfOrder,
        a.AckOutOfOrder + b.AckOutOfOrder, a.StoredTwice + b.StoredTwice, a.RepeatedAcks + b.RepeatedAcks);
}
