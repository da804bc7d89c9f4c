using System.Diagnostics;
using System.Globalization;
using System.Text;
using EasyIm.LoadTest.Targets;

namespace EasyIm.LoadTest.Abuse;

/// <summary>
/// A conversation of two users with a few thousand messages, written before the run without attack:
/// what the SYNC flood asks for from seq 0 (the first user), and what the receipt flood acknowledges
/// (the second). Made once, whichever of the two attacks asks first.
/// </summary>
public sealed class SharedHistory(int messages)
{
    /// <summary>Per connection: under the shipped 100 a second. Two connections per user: under the shipped 200 a second per user.</summary>
    private const double PerConnection = 80;
    private static readonly TimeSpan FillTimeout = TimeSpan.FromMinutes(3);

    private readonly Lock _lock = new();
    private Task? _prepared;

    public Account First { get; private set; } = null!;

    public Account Second { get; private set; } = null!;

    public byte[] ConversationId { get; private set; } = [];

    /// <summary>Messages asked for until prepared; then those stored (acked SENT).</summary>
    public int Count { get; private set; } = messages;

    private int Asked { get; } = messages;

    public Task PrepareAsync(AttackContext context, CancellationToken cancellationToken)
    {
        lock (_lock)
            return _prepared ??= FillAsync(context, cancellationToken);
    }

    private async Task FillAsync(AttackContext context, CancellationToken cancellationToken)
    {
        First = await context.RegisterAsync(context.AccountName("history_1"), cancellationToken);
        Second = await context.RegisterAsync(context.AccountName("history_2"), cancellationToken);
        await context.BefriendAsync(First, Second, cancellationToken);
        ConversationId = Encoding.ASCII.GetBytes(AttackContext.ConversationId(First.Id, Second.Id));

        var tally = new AttackTally();
        var connections = new List<Wire.LoadConnection>();
        try
        {
            foreach (var user in new[] { First, Second, First, Second })
            {
                connections.Add(await context.TryConnectAsync(user, tally, cancellationToken)
                    ?? throw new InvalidOperationException($"the history's user {user.Id} could not connect: {string.Join("; ", tally.Summary())}"));
            }
            var watch = Stopwatch.StartNew();
            var pacer = new Pacer(PerConnection * connections.Count, Stopwatch.GetTimestamp(), Stopwatch.Frequency);
            var sent = 0;
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
            while (tally.CountOf(AttackTally.SentAck) + tally.CountOf("FAIL") < Asked && watch.Elapsed < FillTimeout)
            {
                var (due, _) = pacer.Take(Stopwatch.GetTimestamp());
                for (; due > 0 && sent < Asked; due--, sent++)
                {
                    var connection = connections[sent % connections.Count];
                    var text = Encoding.ASCII.GetBytes("history-" + sent.ToString(CultureInfo.InvariantCulture));
                    connection.EnqueueChat(connection.UserId == First.Id ? Second.Id : First.Id, 0, text, text, (uint)(sent + 1));
                }
                foreach (var connection in connections)
                    connection.Flush();
                if (connections.Any(c => c.IsClosed))
                    throw new InvalidOperationException($"the server closed a connection filling the history: {string.Join("; ", tally.Summary())}");
                await timer.WaitForNextTickAsync(cancellationToken);
            }
            Count = (int)tally.CountOf(AttackTally.SentAck);
            await context.Progress.WriteLineAsync($"  history: {Count:N0} of {Asked:N0} messages stored in {watch.Elapsed.TotalSeconds:F1} s" +
                (Count < Asked ? $" ({string.Join("; ", tally.Summary())})" : ""));
            if (Count == 0)
                throw new InvalidOperationException("no message of the history was stored");
        }
        finally
        {
            await Task.WhenAll(connections.Select(c => c.CloseAsync(TimeSpan.FromSeconds(1))));
        }
    }
}
