using EasyIm.LoadTest.Measuring;

namespace EasyIm.UnitTests.LoadTest;

/// <summary>The load tool's counting of lost, unacked, duplicate and out-of-order messages.</summary>
public sealed class DeliveryLedgerTests
{
    private static ReadOnlySpan<byte> Conversation => "s_1_2"u8;

    /// <summary>Sends <paramref name="count"/> measured messages and acks each with id 100+k and seq k+1.</summary>
    private static SendLedger SentAndAcked(int count)
    {
        var sender = new SendLedger();
        for (var k = 0; k < count; k++)
            sender.Sent(1000 + k, measured: true);
        for (var k = 0; k < count; k++)
            Assert.Equal(AckResult.Acked, sender.Acked(k, 100 + k, (ulong)k + 1, ok: true));
        return sender;
    }

    [Fact]
    public void Every_message_delivered_once_in_order_counts_nothing_wrong()
    {
        var sender = SentAndAcked(5);
        var receiver = new ReceiveLedger();
        for (var k = 0; k < 5; k++)
            Assert.Equal(DeliveryResult.New, receiver.Record(Conversation, 100 + k, (ulong)k + 1, k, measured: true));

        var tally = DeliveryTally.Of(sender, [receiver]);

        Assert.Equal(new DeliveryTally(Sent: 5, Acked: 5, Failed: 0, Unacked: 0, Expected: 5, Delivered: 5,
            Lost: 0, Duplicates: 0, OutOfOrder: 0, AckOutOfOrder: 0, StoredTwice: 0, RepeatedAcks: 0), tally);
    }

    [Fact]
    public void An_acked_message_a_recipient_never_got_is_lost_once_per_recipient_missing_it()
    {
        var sender = SentAndAcked(3);
        var all = new ReceiveLedger();
        var missingOne = new ReceiveLedger();
        var missingTwo = new ReceiveLedger();
        for (var k = 0; k < 3; k++)
        {
            all.Record("g_9"u8, 100 + k, (ulong)k + 1, k, measured: true);
            if (k != 1)
                missingOne.Record("g_9"u8, 100 + k, (ulong)k + 1, k, measured: true);
            if (k == 0)
                missingTwo.Record("g_9"u8, 100 + k, (ulong)k + 1, k, measured: true);
        }

        var tally = DeliveryTally.Of(sender, [all, missingOne, missingTwo]);

        Assert.Equal(3, tally.Lost);
        Assert.Equal(9, tally.Expected);
        Assert.Equal(6, tally.Delivered);
        Assert.Equal(0, tally.OutOfOrder);
    }

    [Fact]
    public void A_message_without_an_answer_is_unacked_not_lost_even_when_it_was_delivered()
    {
        var sender = new SendLedger();
        sender.Sent(1, measured: true);
        sender.Sent(2, measured: true);
        sender.Acked(0, 100, 1, ok: true);
        var receiver = new ReceiveLedger();
        receiver.Record(Conversation, 100, 1, 0, measured: true);
        receiver.Record(Conversation, 101, 2, 1, measured: true);

        var tally = DeliveryTally.Of(sender, [receiver]);

        Assert.Equal((1L, 0L, 2L), (tally.Unacked, tally.Lost, tally.Delivered));
        Assert.Equal(1, sender.InFlight);
    }

    [Fact]
    public void A_failed_message_is_neither_lost_nor_unacked()
    {
        var sender = new SendLedger();
        sender.Sent(1, measured: true);
        Assert.Equal(AckResult.Failed, sender.Acked(0, 0, 0, ok: false));

        var tally = DeliveryTally.Of(sender, [new ReceiveLedger()]);

        Assert.Equal((1L, 0L, 0L, 0L), (tally.Failed, tally.Lost, tally.Unacked, tally.Expected));
        Assert.Equal(0, sender.InFlight);
    }

    [Fact]
    public void The_same_id_again_is_a_duplicate_and_not_out_of_order()
    {
        var sender = SentAndAcked(2);
        var receiver = new ReceiveLedger();
        receiver.Record(Conversation, 100, 1, 0, measured: true);
        receiver.Record(Conversation, 101, 2, 1, measured: true);
        Assert.Equal(DeliveryResult.Duplicate, receiver.Record(Conversation, 100, 1, 0, measured: true));

        var tally = DeliveryTally.Of(sender, [receiver]);

        Assert.Equal((1L, 0L, 0L, 2L), (tally.Duplicates, tally.OutOfOrder, tally.Lost, tally.Delivered));
    }

    [Fact]
    public void A_new_message_below_the_highest_seq_seen_is_out_of_order_each_time()
    {
        var sender = SentAndAcked(5);
        var receiver = new ReceiveLedger();
        // Seqs 1, 2, 5, 3, 4: both 3 and 4 come after 5, so a client shows both in the wrong place.
        foreach (var k in new[] { 0, 1, 4, 2, 3 })
            receiver.Record(Conversation, 100 + k, (ulong)k + 1, k, measured: true);

        var tally = DeliveryTally.Of(sender, [receiver]);

        Assert.Equal((2L, 0L, 0L), (tally.OutOfOrder, tally.Lost, tally.Duplicates));
    }

    [Fact]
    public void Order_is_per_conversation()
    {
        var receiver = new ReceiveLedger();
        receiver.Record("s_1_2"u8, 100, 7, 0, measured: true);
        receiver.Record("g_9"u8, 200, 1, 1, measured: true);
        receiver.Record("s_1_2"u8, 101, 8, 2, measured: true);

        Assert.Equal(0, receiver.OutOfOrder);
    }

    [Fact]
    public void Warm_up_messages_count_for_nothing_but_still_set_the_order()
    {
        var sender = new SendLedger();
        sender.Sent(1, measured: false);
        sender.Sent(2, measured: true);
        sender.Acked(0, 100, 2, ok: true);
        sender.Acked(1, 101, 1, ok: true);
        var receiver = new ReceiveLedger();
        receiver.Record(Conversation, 100, 2, 0, measured: false);
        receiver.Record(Conversation, 100, 2, 0, measured: false);
        receiver.Record(Conversation, 101, 1, 1, measured: true);

        var tally = DeliveryTally.Of(sender, [receiver]);

        Assert.Equal((1L, 1L, 1L), (tally.Sent, tally.Acked, tally.Delivered));
        Assert.Equal(0, tally.Duplicates);
        // The measured message came after a warm-up one with a higher seq, at the recipient and in the acks.
        Assert.Equal((1L, 1L), (tally.OutOfOrder, tally.AckOutOfOrder));
    }

    [Fact]
    public void Acks_whose_seqs_do_not_rise_in_send_order_are_counted()
    {
        var sender = new SendLedger();
        for (var k = 0; k < 4; k++)
            sender.Sent(k, measured: true);
        // Answers may come in any order; what counts is the seq each message got against the ones sent before it.
        sender.Acked(3, 13, 4, ok: true);
        sender.Acked(0, 10, 1, ok: true);
        sender.Acked(2, 12, 2, ok: true);
        sender.Acked(1, 11, 3, ok: true);

        Assert.Equal(1, sender.AckOrderViolations());
    }

    [Fact]
    public void A_second_answer_for_a_message_is_a_repeat_and_the_first_stands()
    {
        var sender = new SendLedger();
        sender.Sent(5, measured: true);
        sender.Acked(0, 100, 1, ok: true);

        Assert.Equal(AckResult.Repeat, sender.Acked(0, 999, 9, ok: false));
        Assert.Equal(AckResult.Unknown, sender.Acked(1, 101, 2, ok: true));
        Assert.Equal(AckResult.Unknown, sender.Acked(-1, 101, 2, ok: true));
        Assert.Equal((1, 1, 0), (sender.RepeatedAnswers, sender.MeasuredAcked, sender.MeasuredFailed));
        Assert.Equal(100, sender.AckedId(0));
        Assert.True(sender.IsAcked(0));
    }

    [Fact]
    public void One_message_arriving_under_a_second_id_is_stored_twice_not_a_duplicate()
    {
        var receiver = new ReceiveLedger();
        receiver.Record(Conversation, 100, 1, 0, measured: true);

        Assert.Equal(DeliveryResult.StoredTwice, receiver.Record(Conversation, 555, 2, 0, measured: true));
        Assert.Equal((1, 0, 1), (receiver.StoredTwice, receiver.Duplicates, receiver.Delivered));
    }

    [Fact]
    public void Ledgers_hold_many_messages_across_their_chunks()
    {
        const int count = 20_000;
        var sender = SentAndAcked(count);
        var receiver = new ReceiveLedger();
        for (var k = count - 1; k >= 0; k--)
        {
            if (k != 12_345)
                receiver.Record(Conversation, 100 + k, (ulong)k + 1, k, measured: true);
        }

        var tally = DeliveryTally.Of(sender, [receiver]);

        Assert.Equal(count, sender.Count);
        Assert.Equal(1000 + 17_000, sender.IntendedTicks(17_000));
        Assert.Equal((1L, (long)count - 2), (tally.Lost, tally.OutOfOrder));
    }

    [Fact]
    public void Tallies_add_up()
    {
        var a = new DeliveryTally(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);

        Assert.Equal(new DeliveryTally(2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24), a + a);
    }
}
