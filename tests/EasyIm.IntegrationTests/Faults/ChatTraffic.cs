using System.Collections.Concurrent;
using System.Diagnostics;
using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Faults;

/// <summary>
/// Chat traffic that survives faults, as a careful client behaves: each sender sends numbered messages
/// (a few in flight), and when an ack does not come or its connection ends it reconnects to a live
/// gateway and resends every unacked message with the same <c>client_msg_id</c>, in order. Each
/// receiver stays connected, reconnecting (and so syncing) when its connection ends. Every loop is
/// bounded in count and in time; every address is loopback.
/// </summary>
public sealed class ChatTraffic
{
    private const int Window = 4;
    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan SendEvery = TimeSpan.FromMilliseconds(15);

    private readonly Func<IReadOnlyList<int>> _gatewayPorts;
    private readonly List<Lane> _lanes;
    private readonly CancellationTokenSource _stop = new();
    private readonly TimeSpan _sendFor;
    private readonly List<Task> _running = [];
    private readonly RenewingTokens? _tokens;
    private readonly TimeSpan _renewEvery;
    private int _reconnects;
    private int _fails;
    private int _closes;

    /// <summary>One sender, one receiver, <see cref="Count"/> messages from one to the other.</summary>
    private sealed class Lane(int index, TestUser sender, TestUser receiver, int count)
    {
        public int Index { get; } = index;
        public TestUser Sender { get; } = sender;
        public TestUser Receiver { get; } = receiver;
        public int Count { get; } = count;
        /// <summary>Message number to its SENT ack (the first one; later ones must agree).</summary>
        public ConcurrentDictionary<int, Msg> Acked { get; } = new();
        public ConcurrentQueue<string> Conflicts { get; } = new();
        /// <summary>Each receiver connection's chat frames from the sender, in arrival order.</summary>
        public ConcurrentQueue<List<Msg>> ReceiverConnections { get; } = new();
        public SemaphoreSlim AckArrived { get; } = new(0);
        public int LiveMisses { get; set; }
        public string ClientMsgId(int n) => $"lane{Index}-{n}";
    }

    private readonly TimeSpan _keepAliveEvery;

    /// <param name="keepAliveEvery">How often an idle connection sends a heartbeat: below the server's <c>Gateway:DropAfter</c>.</param>
    /// <param name="tokens">
    /// On a server whose access tokens live seconds: where each connection gets its token, and renews its
    /// connection with a fresh one every <paramref name="renewEvery"/>. Otherwise the users' own tokens.
    /// </param>
    public ChatTraffic(Func<IReadOnlyList<int>> gatewayPorts, IEnumerable<(TestUser Sender, TestUser Receiver)> pairs, int perSender, TimeSpan sendFor,
        TimeSpan? keepAliveEvery = null, RenewingTokens? tokens = null, TimeSpan? renewEvery = null)
    {
        _keepAliveEvery = keepAliveEvery ?? TimeSpan.FromSeconds(20);
        _tokens = tokens;
        _renewEvery = renewEvery ?? TimeSpan.FromSeconds(2);
        _gatewayPorts = gatewayPorts;
        _lanes = pairs.Select((p, i) => new Lane(i, p.Sender, p.Receiver, perSender)).ToList();
        _sendFor = sendFor;
    }

    public int Acked => _lanes.Sum(l => l.Acked.Count);
    public int Total => _lanes.Sum(l => l.Count);
    public int Reconnects => Volatile.Read(ref _reconnects);
    /// <summary>FAIL answers the senders got (a message refused, e.g. because an earlier one of its connection was lost).</summary>
    public int Fails => Volatile.Read(ref _fails);
    /// <summary>Sender connections that ended under the sender (closed by the server, or lost), as opposed to ones it left for lack of an ack.</summary>
    public int Closes => Volatile.Read(ref _closes);

    /// <summary>Why each counted close happened, for a failure's message.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> CloseReasons { get; } = new();

    /// <summary>Connects the receivers (each to a different gateway where there are several), then starts the senders.</summary>
    public async Task StartAsync()
    {
        foreach (var lane in _lanes)
        {
            var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _running.Add(Task.Run(() => ReceiveAsync(lane, connected)));
            await connected.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
        var sending = _lanes.Select(lane => Task.Run(() => SendAsync(lane))).ToList();
        SendersDone = Task.WhenAll(sending);
        _running.AddRange(sending);
    }

    /// <summary>Every sender has every message acked, or gave up at its deadline.</summary>
    public Task SendersDone { get; private set; } = Task.CompletedTask;

    /// <summary>Waits (bounded) until at least <paramref name="count"/> messages have been acked: the fault then hits traffic in flight.</summary>
    public async Task WaitForAckedAsync(int count, TimeSpan timeout)
    {
        var stopwatch = Stopwatch.StartNew();
        while (Acked < count)
        {
            if (stopwatch.Elapsed > timeout)
                throw new TimeoutException($"only {Acked} of {count} messages acked within {timeout.TotalSeconds} s");
            await Task.Delay(50);
        }
    }

    private async Task<EasyImClient> ConnectAsync(TestUser user, int attempt, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        for (var i = attempt; ; i++)
        {
            var ports = _gatewayPorts();
            var port = ports[i % ports.Count];
            EasyImClient? client = null;
            try
            {
                var options = _tokens is null
                    ? new EasyImClientOptions { KeepAliveEvery = _keepAliveEvery, ConnectTimeout = TimeSpan.FromSeconds(5) }
                    : new EasyImClientOptions
                    {
                        KeepAliveEvery = _keepAliveEvery,
                        ConnectTimeout = TimeSpan.FromSeconds(5),
                        RenewEvery = _renewEvery,
                        FreshAccessToken = ct => _tokens.AccessTokenAsync(user, ct),
                    };
                client = await EasyImClient.ConnectAsync("127.0.0.1", port, i % 2 == 0 ? ClientTransport.TcpProtobuf : ClientTransport.WebSocketJson,
                    options, cancellationToken);
                var token = _tokens is null ? user.AccessToken : await _tokens.AccessTokenAsync(user, cancellationToken);
                await client.HandshakeAsync(user.Id, token, timeout: TimeSpan.FromSeconds(10), cancellationToken: cancellationToken);
                return client;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                if (client is not null)
                    await client.DisposeAsync();
                if (stopwatch.Elapsed > TimeSpan.FromSeconds(90))
                    throw new TimeoutException($"user {user.Id} could not connect to any gateway for 90 s", ex);
                await Task.Delay(200, cancellationToken);
            }
        }
    }

    private async Task ReceiveAsync(Lane lane, TaskCompletionSource connected)
    {
        var from = lane.Sender.Id.ToString();
        for (var attempt = lane.Index; !_stop.IsCancellationRequested; attempt++)
        {
            EasyImClient client;
            try
            {
                client = await ConnectAsync(lane.Receiver, attempt, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (attempt != lane.Index)
                Interlocked.Increment(ref _reconnects);
            var frames = new List<Msg>();
            lane.ReceiverConnections.Enqueue(frames);
            connected.TrySetResult();
            await using (client)
            {
                try
                {
                    await foreach (var msg in client.ReadAllAsync(_stop.Token))
                    {
                        if (msg.MsgType <= Msg.Types.MsgType.Video && msg.FromUserId == from)
                            lock (frames)
                                frames.Add(msg);
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                if (!_stop.IsCancellationRequested)
                    CloseReasons.Enqueue($"receiver of lane {lane.Index}: {client.CloseReason ?? "its connection ended"}");
            }
        }
    }

    private async Task SendAsync(Lane lane)
    {
        var deadline = Stopwatch.StartNew();
        var next = 0;
        for (var attempt = lane.Index + 1; lane.Acked.Count < lane.Count && deadline.Elapsed < _sendFor && !_stop.IsCancellationRequested; attempt++)
        {
            EasyImClient client;
            try
            {
                client = await ConnectAsync(lane.Sender, attempt, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (attempt != lane.Index + 1)
                Interlocked.Increment(ref _reconnects);
            await using (client)
            {
                var reading = Task.Run(() => ReadAcksAsync(lane, client, () => Interlocked.Increment(ref _fails)));
                try
                {
                    // What the last connection left unacked goes again first, in order, with the same ids.
                    var resend = Enumerable.Range(0, next).Where(n => !lane.Acked.ContainsKey(n)).ToList();
                    foreach (var n in resend)
                        await client.SendAsync(Frames.Chat(lane.Receiver.Id, $"m{n}", lane.ClientMsgId(n)));
                    var lastProgress = Stopwatch.StartNew();
                    var ackedBefore = lane.Acked.Count;
                    while (lane.Acked.Count < lane.Count && deadline.Elapsed < _sendFor && !client.IsClosed)
                    {
                        if (next < lane.Count && next - lane.Acked.Count < Window)
                        {
                            await client.SendAsync(Frames.Chat(lane.Receiver.Id, $"m{next}", lane.ClientMsgId(next)));
                            next++;
                            await Task.Delay(SendEvery);
                        }
                        else
                        {
                            await lane.AckArrived.WaitAsync(TimeSpan.FromMilliseconds(200));
                        }
                        if (lane.Acked.Count != ackedBefore)
                        {
                            ackedBefore = lane.Acked.Count;
                            lastProgress.Restart();
                        }
                        else if (lastProgress.Elapsed > AckTimeout && next > lane.Acked.Count)
                        {
                            CloseReasons.Enqueue($"lane {lane.Index}: no ack for {AckTimeout.TotalSeconds:0.#} s with {next - lane.Acked.Count} awaiting one");
                            break; // no ack for a while: reconnect (to the next gateway) and resend
                        }
                    }
                    if (client.IsClosed)
                    {
                        Interlocked.Increment(ref _closes);
                        CloseReasons.Enqueue($"lane {lane.Index}: {client.CloseReason}");
                    }
                }
                catch (Exception ex) when (ex is IOException or System.Net.WebSockets.WebSocketException or ObjectDisposedException or System.Net.Sockets.SocketException or EasyImConnectionClosedException)
                {
                    // The connection ended under the send: reconnect and resend.
                    Interlocked.Increment(ref _closes);
                    CloseReasons.Enqueue($"lane {lane.Index}: {ex.GetType().Name}: {ex.Message} ({client.CloseReason})");
                }
            }
        }
    }

    private static async Task ReadAcksAsync(Lane lane, EasyImClient client, Action failed)
    {
        await foreach (var msg in client.ReadAllAsync())
        {
            if (msg.MsgType <= Msg.Types.MsgType.Video && msg.Status == Msg.Types.MsgStatus.Fail && msg.Error.Length > 0 && msg.ClientMsgId.StartsWith($"lane{lane.Index}-", StringComparison.Ordinal))
                failed();
            if (msg.MsgType > Msg.Types.MsgType.Video || msg.Status != Msg.Types.MsgStatus.Sent || !msg.ClientMsgId.StartsWith($"lane{lane.Index}-", StringComparison.Ordinal))
                continue;
            var n = int.Parse(msg.ClientMsgId[(msg.ClientMsgId.IndexOf('-') + 1)..]);
            var first = lane.Acked.GetOrAdd(n, msg);
            if (first.Id != msg.Id || first.ConversationSeq != msg.ConversationSeq)
                lane.Conflicts.Enqueue($"{msg.ClientMsgId} acked as {first.Id}/{first.ConversationSeq} and as {msg.Id}/{msg.ConversationSeq}");
            lane.AckArrived.Release();
        }
    }

    /// <summary>
    /// Waits for the senders, then until every receiver has every acked message (bounded), stops, and
    /// checks: every message acked SENT was delivered, exactly once after de-duplication by id, and in
    /// the sender's order (its conversation_seq grows with the send order, and every receiver
    /// connection saw the messages new to it in conversation_seq order). Each ack of a message
    /// (resends included) names the same stored message.
    /// </summary>
    /// <param name="pushesMayBeLost">
    /// A messaging process is killed: a message it committed but had not pushed reaches a recipient that
    /// stays connected when its sender resends it (no ack came) or when a later message opens a gap the
    /// gateway asks to fill; the last ones of a sender that never resends reach it only on its next connect.
    /// So delivery is checked after a last connect-time sync of every receiver (docs/architecture.md
    /// "Faults"). Otherwise every acked message must reach the receivers' live connections. Either way each
    /// connection must have seen the messages in seq order.
    /// </param>
    public async Task StopAndVerifyAsync(TimeSpan deliveredWithin, Func<string>? diagnostics = null, bool pushesMayBeLost = false)
    {
        try
        {
            await SendersDone.WaitAsync(_sendFor + TimeSpan.FromSeconds(120));
            var waited = Stopwatch.StartNew();
            while (_lanes.Any(l => Missing(l).Count > 0) && waited.Elapsed < deliveredWithin)
                await Task.Delay(100);
        }
        finally
        {
            _stop.Cancel();
            await Task.WhenAll(_running).WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        var problems = new List<string>();
        if (pushesMayBeLost)
        {
            foreach (var lane in _lanes)
            {
                if (Missing(lane) is { Count: > 0 } missedLive)
                    lane.LiveMisses = missedLive.Count;
                lane.ReceiverConnections.Enqueue(await SyncOnceAsync(lane));
            }
        }
        foreach (var lane in _lanes)
        {
            if (lane.Acked.Count < lane.Count)
                problems.Add($"lane {lane.Index}: only {lane.Acked.Count} of {lane.Count} messages acked before the deadline");
            problems.AddRange(lane.Conflicts.Select(c => $"lane {lane.Index}: {c}"));
            var acked = lane.Acked.OrderBy(a => a.Key).ToList();
            for (var i = 1; i < acked.Count; i++)
            {
                if (acked[i].Value.ConversationSeq <= acked[i - 1].Value.ConversationSeq)
                    problems.Add($"lane {lane.Index}: m{acked[i].Key} has seq {acked[i].Value.ConversationSeq}, not after m{acked[i - 1].Key}'s {acked[i - 1].Value.ConversationSeq}");
            }
            var missing = Missing(lane);
            if (missing.Count > 0)
                problems.Add($"lane {lane.Index}: {missing.Count} acked messages never delivered, first {string.Join(", ", missing.Take(5))} " +
                    $"(receiver connections: {string.Join(", ", lane.ReceiverConnections.Select(c => { lock (c) return $"{c.Count} frames, last {c.LastOrDefault()?.ClientMsgId}"; }))})");
            var received = lane.ReceiverConnections.SelectMany(c => { lock (c) return c.ToList(); }).ToList();
            foreach (var group in received.GroupBy(m => m.ClientMsgId).Where(g => g.Select(m => m.Id).Distinct().Count() > 1))
                problems.Add($"lane {lane.Index}: {group.Key} delivered as {group.Select(m => m.Id).Distinct().Count()} different messages");
            foreach (var m in received.Where(m => !m.Content.Equals("m" + m.ClientMsgId[(m.ClientMsgId.IndexOf('-') + 1)..], StringComparison.Ordinal)))
                problems.Add($"lane {lane.Index}: {m.ClientMsgId} delivered with content '{m.Content}'");
            foreach (var connection in lane.ReceiverConnections)
            {
                List<Msg> frames;
                lock (connection)
                    frames = [.. connection];
                var seen = new HashSet<string>();
                ulong last = 0;
                foreach (var m in frames.Where(m => seen.Add(m.Id)))
                {
                    if (m.ConversationSeq <= last)
                        problems.Add($"lane {lane.Index}: a receiver connection got seq {m.ConversationSeq} after {last}");
                    last = Math.Max(last, m.ConversationSeq);
                }
            }
        }
        var liveMisses = _lanes.Sum(l => l.LiveMisses);
        if (problems.Count > 0)
            Assert.Fail($"{problems.Count} problems ({Acked} of {Total} acked, {Reconnects} reconnects, {liveMisses} missed live and synced):\n" + string.Join("\n", problems.Take(40)) + "\n" + diagnostics?.Invoke());
    }

    /// <summary>A fresh connection of the receiver: its connect-time sync (everything after its ARRIVED cursors, so everything), until SYNC done.</summary>
    private async Task<List<Msg>> SyncOnceAsync(Lane lane)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await ConnectAsync(lane.Receiver, lane.Index, timeout.Token);
        var from = lane.Sender.Id.ToString();
        var frames = new List<Msg>();
        await foreach (var msg in client.ReadAllAsync(timeout.Token))
        {
            if (Frames.IsEvent(msg, "SYNC"))
                return frames;
            if (msg.MsgType <= Msg.Types.MsgType.Video && msg.FromUserId == from)
                frames.Add(msg);
        }
        throw new InvalidOperationException($"lane {lane.Index}: the receiver's sync connection ended before SYNC done");
    }

    private static List<string> Missing(Lane lane)
    {
        var ids = lane.ReceiverConnections.SelectMany(c => { lock (c) return c.Select(m => m.Id).ToList(); }).ToHashSet();
        return lane.Acked.Where(a => !ids.Contains(a.Value.Id)).OrderBy(a => a.Key).Select(a => lane.ClientMsgId(a.Key)).ToList();
    }
}
