using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using EasyIm.LoadTest.Processes;
using EasyIm.LoadTest.Reporting;
using EasyIm.LoadTest.Targets;
using EasyIm.LoadTest.Wire;
using HdrHistogram;
using static EasyIm.LoadTest.Reporting.Figures;

namespace EasyIm.LoadTest.Scenarios;

/// <summary>
/// Issue 17's "ten million messages": the reads a client makes, on a small store and on a large one, in the same
/// run. For each size a fresh server (its own SQLite directory, or its own PostgreSQL database) gets the same
/// users, friendships and groups through its API; then it is stopped, its messaging store is filled with that many
/// messages (<see cref="StoreSeeder"/>) over the same conversations (weights falling off as 1/rank, so the largest
/// conversation holds about a tenth of all messages), it is started again (how long that takes is reported), and one
/// user, a member of the largest conversations, reads: history pages (the newest, and one at a random point of the
/// largest conversation and of its largest group), the conversation list, a SYNC naming every conversation of theirs
/// a few messages back, a SYNC of the largest conversation a thousand messages back, and the connect-time catch-up
/// of what waits after their ARRIVED cursors. A row per read with p50/p99 on each store and their ratio.
/// </summary>
public static class StoreScenario
{
    private const int Users = 2_000;
    private const int Friends = 60;
    private const int SmallGroups = 9;
    private const int OtherConversations = 5_000;

    /// <summary>What the scenario relaxes beyond the throughput settings: the reads it repeats are over the per-user budgets meant for people.</summary>
    private static readonly Dictionary<string, string> ReadSettings = new()
    {
        ["Gateway__Budgets__Sync__PerSecond"] = "1000000",
        ["Gateway__Budgets__Sync__Burst"] = "1000000",
        ["Gateway__Budgets__SyncPerUser__PerSecond"] = "1000000",
        ["Gateway__Budgets__SyncPerUser__Burst"] = "1000000",
        ["Gateway__Budgets__SyncMessagesPerUser__PerSecond"] = "100000000",
        ["Gateway__Budgets__SyncMessagesPerUser__Burst"] = "100000000",
        ["Gateway__Budgets__ApiPerUser__PerSecond"] = "1000000",
        ["Gateway__Budgets__ApiPerUser__Burst"] = "1000000",
        ["Gateway__Budgets__HandshakesPerUser__PerSecond"] = "1000000",
        ["Gateway__Budgets__FriendEventsPerUser__PerSecond"] = "1000000",
        ["Gateway__Budgets__FriendEventsPerUser__Burst"] = "1000000",
        ["Friends__MaxPendingFriendRequests"] = "100000",
    };

    private sealed record Read(string Name, int Times, Func<Reader, CancellationToken, Task> Once);

    private sealed record StoreResult(long Messages, TimeSpan SeedTime, TimeSpan RestartTime, string StoreSize, IReadOnlyList<(string Name, LongHistogram Latency)> Reads);

    public static async Task<int> RunAsync(CommonOptions common, long small, long large, int repeat, CancellationToken cancellationToken)
    {
        var run = RunInfo.Start();
        var what = $"store: {common.Shape.ToString().ToLowerInvariant()} shape, {RunInfo.TransportName(common.Transport)}, {Count(small)} then {Count(large)} messages " +
            $"over {Count(Users)} users ({Count(OtherConversations + Friends + SmallGroups + 1)} conversations), each read {repeat} times; " +
            $"{RunInfo.Machine()}; easyim {RunInfo.ServerBuild()}; run {run.Id}";
        var progress = Console.Error;
        await progress.WriteLineAsync(what);
        var results = new List<StoreResult>();
        foreach (var (size, index) in new[] { small, large }.Select((s, i) => (s, i)))
            results.Add(await OneStoreAsync(common, run, $"{run.Id}s{index}", size, repeat, progress, cancellationToken));

        var output = Console.Out;
        await output.WriteLineAsync();
        await output.WriteLineAsync(what);
        for (var i = 0; i < results[0].Reads.Count; i++)
        {
            if (results[0].Reads[i].Name != results[1].Reads[i].Name)
                await output.WriteLineAsync($"- on the large store, \"{results[0].Reads[i].Name}\" was \"{results[1].Reads[i].Name}\"");
        }
        var table = new MarkdownTable("read", $"{Count(small)}: p50 ms", "p99 ms", $"{Count(large)}: p50 ms", "p99 ms", "p50 ratio", "p99 ratio");
        for (var i = 0; i < results[0].Reads.Count; i++)
        {
            var (name, a) = results[0].Reads[i];
            var b = results[1].Reads[i].Latency;
            table.Add(name, Ms(a.GetValueAtPercentile(50)), Ms(a.GetValueAtPercentile(99)), Ms(b.GetValueAtPercentile(50)), Ms(b.GetValueAtPercentile(99)),
                "×" + Number((double)b.GetValueAtPercentile(50) / Math.Max(1, a.GetValueAtPercentile(50)), 2),
                "×" + Number((double)b.GetValueAtPercentile(99) / Math.Max(1, a.GetValueAtPercentile(99)), 2));
        }
        table.Write(output);
        foreach (var result in results)
            await output.WriteLineAsync($"- {Count(result.Messages)} messages: seeded in {Seconds(result.SeedTime)} s; store {result.StoreSize}; restarted and ready in {Seconds(result.RestartTime)} s");
        await output.WriteLineAsync($"- command: {common.CommandLine}");
        await output.WriteLineAsync($"- in full: {common.FullCommandLine}");
        return 0;
    }

    private static async Task<StoreResult> OneStoreAsync(CommonOptions common, RunInfo run, string name, long messages, int repeat, TextWriter progress,
        CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var logs = Directory.CreateDirectory(Path.Combine(run.LogDirectory, name)).FullName;
        await using var target = await EasyImTarget.StartAsync(common.Shape, common.Settings(EasyImTarget.ThroughputSettings, ReadSettings), common.Infrastructure,
            name, logs, cancellationToken);
        await progress.WriteLineAsync($"  {target.Name} for {Count(messages)} messages: ready in {Seconds(watch.Elapsed)} s");
        using var api = new EasyImApi(target.Api);
        var accounts = await api.RegisterManyAsync($"l{name}_", Users, 16, progress, cancellationToken);
        var me = accounts[0];
        // The reader's friends, one request at a time (a user may have only so many pending), and their groups.
        foreach (var friend in accounts.Skip(1).Take(Friends))
            await api.AcceptFriendAsync(friend, await api.AddFriendAsync(me, friend.Id, cancellationToken), cancellationToken);
        var bigGroup = await api.CreateGroupAsync(me, "everyone", accounts.Skip(1).Take(49).Select(a => a.Id), cancellationToken);
        var groups = new List<(long Id, long[] Members)> { (bigGroup, [me.Id, .. accounts.Skip(1).Take(49).Select(a => a.Id)]) };
        for (var g = 0; g < SmallGroups; g++)
        {
            var members = accounts.Skip(1 + (g * 6 % Friends)).Take(6).Select(a => a.Id).ToArray();
            groups.Add((await api.CreateGroupAsync(me, $"small {g}", members, cancellationToken), [me.Id, .. members]));
        }
        var conversations = Conversations(accounts, groups);
        await progress.WriteLineAsync($"  {target.Name}: {Count(Users)} users, {Friends} friends, {groups.Count} groups set up in {Seconds(watch.Elapsed)} s");

        await target.StopAsync();
        var seeded = target.Shape == Shape.Standalone
            ? await StoreSeeder.SeedSqliteAsync(target.DataDirectory, conversations, messages, me.Id, progress, cancellationToken)
            : await StoreSeeder.SeedPostgresAsync(target.Postgres!, conversations, messages, me.Id, progress, cancellationToken);
        await progress.WriteLineAsync($"  seeded {Count(seeded.Messages)} messages in {Seconds(seeded.Took)} s");
        var size = await StoreSizeAsync(target, cancellationToken);
        var restart = await target.RestartAsync(cancellationToken);
        await progress.WriteLineAsync($"  {target.Name}: restarted on {size} and ready in {Seconds(restart)} s");

        var largest = conversations[0];
        var group = conversations[1];
        var mine = conversations.Where(c => c.Members.Contains(me.Id)).ToList();
        var reads = new Read[]
        {
            new("history: the newest page (50) of the largest conversation", repeat,
                (r, ct) => r.HistoryAsync(largest.Id, null, ct)),
            new("history: a page (50) at a random point of the largest conversation", repeat,
                (r, ct) => r.HistoryAsync(largest.Id, (ulong)r.Random.NextInt64(51, largest.LastSeq + 1), ct)),
            new("history: a page (50) at a random point of the largest group", repeat,
                (r, ct) => r.HistoryAsync(group.Id, (ulong)r.Random.NextInt64(51, group.LastSeq + 1), ct)),
            new($"conversation list ({mine.Count} conversations)", repeat, (r, ct) => r.ConversationsAsync(ct)),
            new($"SYNC naming all {mine.Count} conversations, each 10 back ({Count(mine.Sum(c => Math.Min(10, c.LastSeq)))} messages)", Math.Max(5, repeat / 10),
                (r, ct) => r.SyncAsync([.. mine.Select(c => KeyValuePair.Create(c.Id, (ulong)Math.Max(0, c.LastSeq - 10)))], ct)),
            new($"SYNC of the largest conversation, 1,000 back", Math.Max(5, repeat / 10),
                (r, ct) => r.SyncAsync([KeyValuePair.Create(largest.Id, (ulong)Math.Max(0, largest.LastSeq - 1000))], ct)),
            new($"connect-time catch-up ({Count(mine.Sum(c => Math.Min(c.Pending, c.LastSeq)))} messages after the ARRIVED cursors)", Math.Max(5, repeat / 10),
                (r, ct) => r.ConnectAsync(ct)),
        };
        await using var reader = await Reader.OpenAsync(target, common, me, cancellationToken);
        var results = new List<(string, LongHistogram)>();
        foreach (var read in reads)
        {
            await read.Once(reader, cancellationToken); // warm
            var latency = new LongHistogram(TimeSpan.FromMinutes(5).Ticks / 10, 3);
            for (var i = 0; i < read.Times; i++)
            {
                var started = Stopwatch.GetTimestamp();
                await read.Once(reader, cancellationToken);
                latency.RecordValue(Math.Max(1, (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds));
            }
            await progress.WriteLineAsync($"  {read.Name}: p50 {Ms(latency.GetValueAtPercentile(50))} ms, p99 {Ms(latency.GetValueAtPercentile(99))} ms");
            results.Add((read.Name, latency));
        }
        return new StoreResult(seeded.Messages, seeded.Took, restart, size, results);
    }

    /// <summary>
    /// The reader's conversations first, largest first (one with their first friend, then their big group), then
    /// the others in a shuffled order; weight 1/rank. The reader has messages waiting in their first 42 conversations.
    /// </summary>
    private static List<SeedConversation> Conversations(Account[] accounts, List<(long Id, long[] Members)> groups)
    {
        var me = accounts[0].Id;
        var random = new Random(23);
        static string Direct(long a, long b) => a < b ? $"s_{a}_{b}" : $"s_{b}_{a}";
        SeedConversation DirectWith(long a, long b) => new(Direct(a, b), false, Math.Min(a, b), Math.Max(a, b), 0, [a, b], 0);
        var mine = new List<SeedConversation> { DirectWith(me, accounts[1].Id) };
        mine.AddRange(groups.Select(g => new SeedConversation($"g_{g.Id}", true, 0, 0, g.Id, g.Members, 0)));
        mine.AddRange(accounts.Skip(2).Take(Friends - 1).Select(f => DirectWith(me, f.Id)));
        var ids = mine.Select(c => c.Id).ToHashSet();
        var others = new List<SeedConversation>();
        while (others.Count < OtherConversations)
        {
            var (a, b) = (accounts[random.Next(1, accounts.Length)].Id, accounts[random.Next(1, accounts.Length)].Id);
            if (a != b && ids.Add(Direct(a, b)))
                others.Add(DirectWith(a, b));
        }
        // Shuffle the others among the reader's smaller ones, so that the reader is in conversations of every size.
        var rest = mine.Skip(2).Concat(others).OrderBy(_ => random.Next()).ToList();
        var ordered = mine.Take(2).Concat(rest).ToList();
        var pendingLeft = 42;
        return ordered.Select((c, rank) =>
        {
            var pending = 0L;
            if (c.Members.Contains(me) && pendingLeft-- > 0)
                pending = rank switch { 0 => 1000, 1 => 500, _ => 10 };
            return c with { Weight = 1.0 / (rank + 1), Pending = pending };
        }).ToList();
    }

    private static async Task<string> StoreSizeAsync(EasyImTarget target, CancellationToken cancellationToken)
    {
        if (target.Shape == Shape.Standalone)
        {
            var bytes = new FileInfo(Path.Combine(target.DataDirectory, "messaging.db")).Length;
            return $"messaging.db {Number(bytes / 1048576.0, 0)} MB";
        }
        await using var connection = new Npgsql.NpgsqlConnection(target.Postgres);
        await connection.OpenAsync(cancellationToken);
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT pg_table_size('messaging.messages'), pg_indexes_size('messaging.messages')", connection);
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        await row.ReadAsync(cancellationToken);
        return $"messages table {Number(row.GetInt64(0) / 1048576.0, 0)} MB + indexes {Number(row.GetInt64(1) / 1048576.0, 0)} MB";
    }

    /// <summary>The measuring user: an HTTP client with their token, and a connection whose SYNCs it times.</summary>
    private sealed class Reader : IFrameHandler, IAsyncDisposable
    {
        private readonly EasyImTarget _target;
        private readonly CommonOptions _common;
        private readonly Account _account;
        private readonly HttpClient _http;
        private LoadConnection _connection = null!;
        private TaskCompletionSource? _sync;
        private long _messages;

        private Reader(EasyImTarget target, CommonOptions common, Account account)
        {
            _target = target;
            _common = common;
            _account = account;
            _http = new HttpClient { BaseAddress = target.Api, Timeout = TimeSpan.FromSeconds(60) };
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", account.Token);
        }

        public Random Random { get; } = new(29);

        public static async Task<Reader> OpenAsync(EasyImTarget target, CommonOptions common, Account account, CancellationToken cancellationToken)
        {
            var reader = new Reader(target, common, account);
            reader._connection = await reader.ConnectOnceAsync(cancellationToken);
            return reader;
        }

        private async Task<LoadConnection> ConnectOnceAsync(CancellationToken cancellationToken)
        {
            var connection = await LoadConnection.OpenAsync(_target.Endpoint, _common.Transport, this, cancellationToken);
            await connection.HandshakeAsync(_account.Id, _account.Token, "reader", TimeSpan.FromSeconds(120), cancellationToken);
            return connection;
        }

        public async Task HistoryAsync(string conversationId, ulong? beforeSeq, CancellationToken cancellationToken)
        {
            var query = $"/api/chat/history?conversation_id={conversationId}&limit=50" + (beforeSeq is { } seq ? $"&before_seq={seq.ToString(CultureInfo.InvariantCulture)}" : "");
            using var response = await _http.GetAsync(query, cancellationToken);
            await Ok(response, cancellationToken);
        }

        public async Task ConversationsAsync(CancellationToken cancellationToken)
        {
            using var response = await _http.GetAsync("/api/chat/conversations", cancellationToken);
            await Ok(response, cancellationToken);
        }

        private static async Task Ok(HttpResponseMessage response, CancellationToken cancellationToken)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
                throw new InvalidOperationException($"{response.RequestMessage?.RequestUri}: HTTP {(int)response.StatusCode} {body}");
        }

        /// <summary>Sends a SYNC and waits for its SYNC done; fails if no message came.</summary>
        public async Task SyncAsync(IReadOnlyList<KeyValuePair<string, ulong>> cursors, CancellationToken cancellationToken)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _sync, done);
            Interlocked.Exchange(ref _messages, 0);
            _connection.EnqueueSync(cursors);
            _connection.Flush();
            await done.Task.WaitAsync(TimeSpan.FromSeconds(120), cancellationToken);
            if (Interlocked.Read(ref _messages) == 0)
                throw new InvalidOperationException("a SYNC brought no message");
        }

        /// <summary>A new connection of the same device: the handshake ends with the connect-time sync's SYNC done.</summary>
        public async Task ConnectAsync(CancellationToken cancellationToken)
        {
            var connection = await ConnectOnceAsync(cancellationToken);
            await connection.CloseAsync(TimeSpan.FromSeconds(5));
        }

        public void OnFrame(LoadConnection connection, ref Incoming frame)
        {
            if (connection.DuringHandshake || connection != _connection)
                return;
            if (frame.IsChat)
                Interlocked.Increment(ref _messages);
            else if (frame.MsgType == Incoming.Event && ServerEvent.Read(frame.Content) is { Key: "SYNC", Done: true })
                Volatile.Read(ref _sync)?.TrySetResult();
        }

        public async ValueTask DisposeAsync()
        {
            await _connection.CloseAsync(TimeSpan.FromSeconds(5));
            _http.Dispose();
        }
    }
}
