using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using EasyIm.Client;
using EasyIm.Contracts.Wire;
using HdrHistogram;

namespace EasyIm.LoadTest;

public sealed record WorkloadOptions(int Pairs, int MessagesPerSender, int Window, ClientTransport Transport, TimeSpan Timeout);

public sealed record WorkloadResult(string Name, int Sent, int Delivered, TimeSpan Elapsed, HistogramBase Latency, HistogramBase AckLatency)
{
    public double PerSecond => Delivered / Elapsed.TotalSeconds;

    public static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Name}: delivered {Delivered}/{Sent} in {Elapsed.TotalSeconds:F2} s = {PerSecond:F0} msg/s; " +
        $"latency p50 {Ms(Latency.GetValueAtPercentile(50)):F2} ms, p99 {Ms(Latency.GetValueAtPercentile(99)):F2} ms, max {Ms(Latency.GetMaxValue()):F2} ms; " +
        $"SENT ack p99 {Ms(AckLatency.GetValueAtPercentile(99)):F2} ms");
}

/// <summary>
/// Senders and receivers in pairs, one connection each. Every sender keeps up to
/// <c>Window</c> messages awaiting their SENT ack; latency is from the send to the recipient's
/// receipt (the send time travels in the content: one process, one clock).
/// </summary>
public static class Workload
{
    public sealed record Account(long Id, string Token);

    public static async Task<List<Account>> RegisterAsync(Uri api, int count)
    {
        using var http = new HttpClient { BaseAddress = api };
        var run = Guid.NewGuid().ToString("N")[..8];
        var accounts = new Account[count];
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            var response = await http.PostAsJsonAsync("/api/user/register", new { account = $"load_{run}_{i}", password = "load-pass-1" }, ct);
            response.EnsureSuccessStatusCode();
            var data = (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("data");
            accounts[i] = new Account(long.Parse(data.GetProperty("id").GetString()!), data.GetProperty("access_token").GetString()!);
        });
        return [.. accounts];
    }

    public static async Task<WorkloadResult> RunAsync(string name, string host, int port, IReadOnlyList<Account> accounts, WorkloadOptions options)
    {
        var clients = new EasyImClient[options.Pairs * 2];
        try
        {
            await Parallel.ForAsync(0, clients.Length, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            {
                var client = await EasyImClient.ConnectAsync(host, port, options.Transport, cancellationToken: ct);
                await client.HandshakeAsync(accounts[i].Id, accounts[i].Token, cancellationToken: ct);
                clients[i] = client;
            });

            // Receivers count only this run's text (the run id leads the content), each id once,
            // so what the connect-time sync replays from an earlier run does not count.
            using var timeout = new CancellationTokenSource(options.Timeout);
            var latency = new LongHistogram(TimeStamp.Minutes(10), 3);
            var ackLatency = new LongHistogram(TimeStamp.Minutes(10), 3);
            var delivered = 0;
            var run = Guid.NewGuid().ToString("N")[..8];
            var started = Stopwatch.GetTimestamp();
            var pairs = Enumerable.Range(0, options.Pairs).Select(async p =>
            {
                var sender = clients[2 * p];
                var receiver = clients[2 * p + 1];
                var receive = ReceiveAsync(receiver, run, options.MessagesPerSender, timeout.Token);
                var acks = await SendAsync(sender, accounts[2 * p + 1].Id, run, options, timeout.Token);
                var (count, histogram) = await receive;
                lock (latency)
                {
                    latency.Add(histogram);
                    ackLatency.Add(acks);
                    delivered += count;
                }
            });
            try
            {
                await Task.WhenAll(pairs);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"{name}: stopped at the {options.Timeout.TotalSeconds:F0} s limit");
            }
            var elapsed = Stopwatch.GetElapsedTime(started);
            return new WorkloadResult(name, options.Pairs * options.MessagesPerSender, delivered, elapsed, latency, ackLatency);
        }
        finally
        {
            foreach (var client in clients.Where(c => c is not null))
                await client.DisposeAsync();
        }
    }

    private static async Task<LongHistogram> SendAsync(EasyImClient sender, long to, string run, WorkloadOptions options, CancellationToken ct)
    {
        var acks = new LongHistogram(TimeStamp.Minutes(10), 3);
        var window = new SemaphoreSlim(options.Window);
        var sentAt = new Dictionary<string, long>();
        var acked = 0;
        var reader = Task.Run(async () =>
        {
            await foreach (var msg in sender.ReadAllAsync(ct))
            {
                if (msg.Status != Msg.Types.MsgStatus.Sent || msg.ClientMsgId.Length == 0)
                    continue;
                long t;
                lock (sentAt)
                {
                    if (!sentAt.Remove(msg.ClientMsgId, out t))
                        continue;
                }
                acks.RecordValue(Stopwatch.GetTimestamp() - t);
                window.Release();
                if (++acked == options.MessagesPerSender)
                    return;
            }
        }, ct);
        for (var i = 0; i < options.MessagesPerSender; i++)
        {
            await window.WaitAsync(ct);
            var id = $"{run}-{i}";
            var now = Stopwatch.GetTimestamp();
            lock (sentAt)
                sentAt[id] = now;
            await sender.SendAsync(Frames.Chat(to, string.Create(CultureInfo.InvariantCulture, $"{run}:{now}"), id, (uint)i + 1), ct);
        }
        await reader;
        return acks;
    }

    private static async Task<(int, LongHistogram)> ReceiveAsync(EasyImClient receiver, string run, int expected, CancellationToken ct)
    {
        var histogram = new LongHistogram(TimeStamp.Minutes(10), 3);
        var seen = new HashSet<string>();
        await foreach (var msg in receiver.ReadAllAsync(ct))
        {
            if (msg.MsgType != Msg.Types.MsgType.Text || !msg.Content.StartsWith(run + ":", StringComparison.Ordinal) || !seen.Add(msg.Id))
                continue;
            histogram.RecordValue(Stopwatch.GetTimestamp() - long.Parse(msg.Content.AsSpan(run.Length + 1), CultureInfo.InvariantCulture));
            if (seen.Count == expected)
                break;
        }
        return (seen.Count, histogram);
    }
}
