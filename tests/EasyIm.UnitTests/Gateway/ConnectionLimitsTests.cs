using EasyIm.Contracts.Messaging;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Delivery;
using EasyIm.Gateway.Wire;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EasyIm.UnitTests.Gateway;

/// <summary>
/// The limits that keep one client's excess its own: the send queue bounded in bytes, the cap on a user's
/// live connections, and the shared receipt queue that never waits.
/// </summary>
public sealed class ConnectionLimitsTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>A connection whose client reads nothing until <see cref="Unblock"/>: every write waits.</summary>
    private sealed class StuckConnection(GatewayOptions options)
        : LongConnection("unit:" + Guid.NewGuid().ToString("N")[..8], "memory", options, NullLogger.Instance)
    {
        public TaskCompletionSource Unblock { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Writing { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool Aborted { get; private set; }

        protected override Task ReadLoopAsync(FrameHandler handler) => Task.Delay(Timeout.Infinite, Closing);

        protected override async ValueTask<bool> WriteAsync(IReadOnlyList<OutboundFrame> frames)
        {
            Writing.TrySetResult();
            await Unblock.Task;
            return true;
        }

        protected override ValueTask FinishWritingAsync() => ValueTask.CompletedTask;

        protected override void StopReading() { }

        protected override void AbortTransport() => Aborted = true;
    }

    private static OutboundFrame Frame(int contentChars) => new(new Msg { MsgType = Msg.Types.MsgType.Text, Content = new string('x', contentChars) });

    [Fact]
    public async Task A_reader_that_stops_is_dropped_once_its_queue_passes_the_byte_bound_however_few_the_frames()
    {
        var options = new GatewayOptions { SendQueueBytes = 64 * 1024, SendQueueCapacity = 2048 };
        var connection = new StuckConnection(options);
        Assert.True(connection.Send(Frame(20_000)));
        await connection.Writing.Task.WaitAsync(Wait);
        Assert.True(connection.Send(Frame(20_000)));
        Assert.True(connection.Send(Frame(20_000)));

        // 80 KB queued or in the write that waits: past 64 KiB with 4 frames of 2048.
        Assert.False(connection.Send(Frame(20_000)));

        Assert.True(connection.IsClosing);
        Assert.True(connection.Aborted);
        Assert.Equal("send queue full (65536 bytes): the client does not read what it is sent", connection.CloseReason);
        Assert.False(connection.Send(Frame(10)));
    }

    [Fact]
    public async Task An_empty_queue_takes_a_frame_larger_than_the_bound_and_a_waiter_for_room_goes_on_once_it_is_read()
    {
        var options = new GatewayOptions { SendQueueBytes = 64 * 1024 };
        var connection = new StuckConnection(options);

        Assert.True(connection.Send(Frame(100_000)));
        await connection.Writing.Task.WaitAsync(Wait);
        Assert.True(connection.Queued.Bytes > 100_000);
        var room = connection.WhenQueueBelowAsync(10, 1000, CancellationToken.None).AsTask();
        Assert.False(room.IsCompleted);

        connection.Unblock.SetResult();

        await room.WaitAsync(Wait);
        Assert.Equal((0, 0L), connection.Queued);
        Assert.False(connection.IsClosing);
    }

    private static List<string> Ids(IEnumerable<LongConnection> connections) => connections.Select(c => c.Id).ToList();

    private static RecordingConnection SignedIn(GatewayOptions options, TimeProvider time, long userId, string? device = null)
    {
        var connection = new RecordingConnection(options, time) { Session = new Session(userId, device, new TokenGrant(1, 0, DateTimeOffset.MaxValue)) };
        connection.ResetTimeout(options.DropAfterSpan);
        return connection;
    }

    [Fact]
    public void The_connection_past_the_cap_is_refused_and_one_closing_holds_no_place()
    {
        var time = new FakeTimeProvider();
        var options = new GatewayOptions { MaxConnectionsPerUser = 2 };
        var registry = new ConnectionRegistry(options, time);
        var (a, b, c) = (SignedIn(options, time, 7), SignedIn(options, time, 7), SignedIn(options, time, 7));
        var admitted = 0;

        Assert.Equal(Admission.Added, registry.Admit(a, () => admitted++, out _));
        Assert.Equal(Admission.Added, registry.Admit(b, () => admitted++, out _));
        Assert.Equal(Admission.OverCap, registry.Admit(c, () => admitted++, out var none));

        Assert.Equal(2, admitted);
        Assert.Empty(none);
        Assert.Equal([a.Id, b.Id], Ids(registry.OfUser(7)));
        Assert.Equal(Admission.Added, registry.Admit(SignedIn(options, time, 8), null, out _));
        // A closing connection lingers until its last frame leaves, but the user may connect again meanwhile.
        a.Close(409, "going");
        Assert.Equal(Admission.Added, registry.Admit(c, null, out _));
        Assert.True(c.Admitted);
    }

    [Fact]
    public void At_the_cap_a_connection_silent_past_ReplaceSilentAfter_gives_way_to_the_new_one()
    {
        var time = new FakeTimeProvider();
        var options = new GatewayOptions { MaxConnectionsPerUser = 2, ReplaceSilentAfter = 90 };
        var registry = new ConnectionRegistry(options, time);
        var (halfDead, live) = (SignedIn(options, time, 7), SignedIn(options, time, 7));
        registry.Admit(halfDead, null, out _);
        registry.Admit(live, null, out _);

        time.Advance(TimeSpan.FromSeconds(60));
        live.ResetTimeout(options.DropAfterSpan);
        Assert.Equal(Admission.OverCap, registry.Admit(SignedIn(options, time, 7), null, out _));
        time.Advance(TimeSpan.FromSeconds(31));
        var reconnect = SignedIn(options, time, 7);

        Assert.Equal(Admission.Added, registry.Admit(reconnect, null, out var replaced));
        Assert.Equal([halfDead.Id], Ids(replaced));
        Assert.Equal([live.Id, reconnect.Id], Ids(registry.OfUser(7)));
    }

    [Fact]
    public void A_device_reconnecting_at_the_cap_replaces_its_own_connection()
    {
        var time = new FakeTimeProvider();
        var options = new GatewayOptions { MaxConnectionsPerUser = 2 };
        var registry = new ConnectionRegistry(options, time);
        var (phone, tablet) = (SignedIn(options, time, 7, "phone"), SignedIn(options, time, 7, "tablet"));
        registry.Admit(phone, null, out _);
        registry.Admit(tablet, null, out _);

        var phoneAgain = SignedIn(options, time, 7, "phone");
        Assert.Equal(Admission.Added, registry.Admit(phoneAgain, null, out var replaced));
        Assert.Equal([phone.Id], Ids(replaced));
    }

    [Fact]
    public async Task Waiting_receipts_of_one_cursor_are_coalesced_to_the_highest_and_leave_in_arrival_order()
    {
        var time = new FakeTimeProvider();
        var sent = new List<IReadOnlyList<Receipt>>();
        var arrived = new SemaphoreSlim(0);
        await using var queue = new ReceiptQueue(batch =>
        {
            lock (sent)
                sent.Add(batch);
            arrived.Release();
            return Task.CompletedTask;
        }, maxBatch: 2, TimeSpan.FromMilliseconds(2), perConnection: 10, NullLogger.Instance, time);

        foreach (var (conversation, seq, status) in new[] { ("s_1_2", 5UL, 2), ("s_1_2", 3UL, 2), ("s_1_3", 1UL, 2), ("s_1_2", 9UL, 2), ("s_1_2", 4UL, 3) })
            Assert.True(queue.Add(new Receipt(1, conversation, seq, status), null));
        Assert.Equal(3, queue.Count);
        // The batch leaves 2 ms after the first receipt, on the queue's clock.
        await WhenAsync(() => time.Advance(TimeSpan.FromMilliseconds(2)), () => arrived.CurrentCount >= 2);

        lock (sent)
        {
            Assert.Equal([new Receipt(1, "s_1_2", 9, 2), new Receipt(1, "s_1_3", 1, 2)], sent[0]);
            Assert.Equal([new Receipt(1, "s_1_2", 4, 3)], sent[1]);
        }
    }

    [Fact]
    public async Task A_connection_flooding_receipts_is_refused_alone_and_never_waits_even_when_the_bus_is_stuck()
    {
        var options = new GatewayOptions();
        var bus = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sent = new List<Receipt>();
        var queue = new ReceiptQueue(async batch =>
        {
            await bus.Task;
            lock (sent)
                sent.AddRange(batch);
        }, maxBatch: 256, TimeSpan.FromMilliseconds(1), perConnection: 3, NullLogger.Instance);
        var (flooder, other) = (new RecordingConnection(options), new RecordingConnection(options));

        for (var i = 0; i < 3; i++)
            Assert.True(queue.Add(new Receipt(1, $"s_1_{i}", 1, 2), flooder));
        Assert.False(queue.Add(new Receipt(1, "s_1_99", 1, 2), flooder));
        // A higher receipt for a cursor already waiting costs nothing more.
        Assert.True(queue.Add(new Receipt(1, "s_1_0", 20_000, 2), flooder));
        Assert.True(queue.Add(new Receipt(2, "s_2_3", 4, 3), other));

        bus.SetResult();
        await queue.DisposeAsync();

        Assert.Contains(new Receipt(2, "s_2_3", 4, 3), sent);
        Assert.Contains(new Receipt(1, "s_1_0", 20_000, 2), sent);
        Assert.DoesNotContain(sent, r => r.ConversationId == "s_1_99");
        // Once its receipts have left, the connection may queue more.
        await using var next = new ReceiptQueue(_ => Task.CompletedTask, 1, TimeSpan.Zero, 3, NullLogger.Instance);
        Assert.True(next.Add(new Receipt(1, "s_1_99", 1, 2), flooder));
    }

    /// <summary>Does <paramref name="step"/> until <paramref name="done"/>, for at most <see cref="Wait"/>.</summary>
    private static async Task WhenAsync(Action step, Func<bool> done)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition was not met in time");
            step();
            await Task.Delay(5);
        }
    }
}
