using System.Diagnostics;
using System.Net;
using EasyIm.LoadTest.Scenarios;
using EasyIm.LoadTest.Wire;

namespace EasyIm.LoadTest.Abuse;

/// <summary>
/// One attack class: its users are made before the scenario's first phase (<see cref="PrepareAsync"/>);
/// it runs through the second phase's measured interval (<see cref="RunAsync"/>) and stops by itself,
/// counting in <see cref="Tally"/> what it sent and what the server answered.
/// </summary>
public abstract class Attack(AttackKind kind)
{
    /// <summary>Connections a reconnecting attacker opens at most (the first and 20 more).</summary>
    public const int MaxConnects = 21;

    /// <summary>How long an attacker may take, after its deadline, to collect its last answers.</summary>
    public static readonly TimeSpan Cleanup = TimeSpan.FromSeconds(10);

    public AttackKind Kind { get; } = kind;

    public AttackTally Tally { get; } = new();

    /// <summary>What the attacker does, at what pace, for the report.</summary>
    public abstract string Description { get; }

    /// <summary>What <see cref="AttackTally.Sent"/> counts (chat messages, SYNCs, login attempts...).</summary>
    public abstract string Unit { get; }

    /// <summary>Registers the attack's users and makes what it needs (friendships), before the run without attack.</summary>
    public abstract Task PrepareAsync(AttackContext context, CancellationToken cancellationToken);

    /// <summary>Attacks until <paramref name="until"/> (<see cref="Stopwatch"/> ticks) or its own bounds, then ends within <see cref="Cleanup"/> or so.</summary>
    public abstract Task RunAsync(AttackContext context, long until, CancellationToken cancellationToken);

    /// <summary>
    /// Starts every attack when the flow's measured interval starts, so that what an attack costs before
    /// the server's limits catch it is measured too, and runs them to the interval's end. An attack that
    /// fails is counted as such; the others go on.
    /// </summary>
    public static async Task RunAllAsync(IReadOnlyList<Attack> attacks, AttackContext context, FlowClock clock, CancellationToken cancellationToken)
    {
        var wait = (double)(clock.WarmupEnd - Stopwatch.GetTimestamp()) / Stopwatch.Frequency;
        if (wait > 0)
            await Task.Delay(TimeSpan.FromSeconds(wait), cancellationToken);
        await context.Progress.WriteLineAsync($"  attacks: {attacks.Count} running until the measured interval ends");
        await Task.WhenAll(attacks.Select(async attack =>
        {
            try
            {
                await attack.RunAsync(context, clock.MeasureEnd, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                attack.Tally.Note($"the attacker itself failed: {ex.GetType().Name}: {ex.Message}");
            }
        }));
    }

    protected static long Now => Stopwatch.GetTimestamp();

    /// <summary>
    /// Sends on <paramref name="session"/>'s connection at <paramref name="perSecond"/> until
    /// <paramref name="until"/>, reconnecting when the server closes it, while connections are left;
    /// what falls due while there is no connection is not sent (counted). With <paramref name="chat"/>
    /// each frame is a chat message the server owes an answer (SENT or FAIL): the attacker waits for
    /// the last ones, and says how many never came.
    /// </summary>
    protected async Task PacedAsync(HostileSession session, double perSecond, long until, Action<LoadConnection, long> send, CancellationToken cancellationToken,
        bool chat = false)
    {
        var pacer = new Pacer(perSecond, Now, Stopwatch.Frequency);
        long n = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        try
        {
            while (Now < until)
            {
                var connection = await session.ConnectAsync(cancellationToken);
                var (due, skipped) = pacer.Take(Now);
                Tally.AddNotSent(skipped);
                if (connection is null)
                {
                    Tally.AddNotSent(due);
                    if (session.Exhausted)
                    {
                        Tally.Note($"gave up: the server closed or refused all {session.Connects} connections it was allowed to try");
                        break;
                    }
                }
                else if (due > 0)
                {
                    for (var i = 0; i < due; i++)
                        send(connection, n++);
                    connection.Flush();
                    Tally.AddSent(due);
                    if (chat)
                        session.Sent(due);
                }
                await timer.WaitForNextTickAsync(cancellationToken);
            }
            if (session.Open is { } last)
                await QuietAsync(last, cancellationToken, chat ? () => session.Awaiting == 0 : null);
        }
        finally
        {
            await session.CloseAsync();
        }
        if (session.Connects > 1)
            Tally.Note($"{session.Connects} connections in all (the server closed or refused the others)");
        if (chat && session.Unanswered > 0)
            Tally.Note($"{session.Unanswered:N0} chat messages never answered (sent on a connection the server closed, or unanswered {Cleanup.TotalSeconds:F0} s after the end)");
    }

    /// <summary>
    /// Lets the last answers in: returns once <paramref name="done"/> says so (without it, once nothing
    /// came for a second), when the server closed the connection, or after <see cref="Cleanup"/>.
    /// </summary>
    protected static async Task QuietAsync(LoadConnection connection, CancellationToken cancellationToken, Func<bool>? done = null)
    {
        var watch = Stopwatch.StartNew();
        var last = connection.BytesReceived;
        var lastChange = TimeSpan.Zero;
        while (!connection.IsClosed && !(done?.Invoke() ?? watch.Elapsed - lastChange >= TimeSpan.FromSeconds(1)) && watch.Elapsed < Cleanup)
        {
            await Task.Delay(100, cancellationToken);
            if (connection.BytesReceived != last)
                (last, lastChange) = (connection.BytesReceived, watch.Elapsed);
        }
    }

    /// <summary>
    /// HTTP requests at <paramref name="perSecond"/> until <paramref name="until"/>, at most
    /// <paramref name="maxInFlight"/> awaiting their answer (more are not sent, counted); each answer's
    /// status counted. Answers still missing <see cref="Cleanup"/> after the deadline are abandoned.
    /// </summary>
    protected async Task HttpFloodAsync(double perSecond, int maxInFlight, long until,
        Func<long, CancellationToken, Task<(HttpStatusCode Status, string Message)>> request, CancellationToken cancellationToken)
    {
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var inFlight = 0;
        var requests = new List<Task>();
        var pacer = new Pacer(perSecond, Now, Stopwatch.Frequency);
        long n = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        while (Now < until)
        {
            var (due, skipped) = pacer.Take(Now);
            Tally.AddNotSent(skipped);
            for (var i = 0; i < due; i++)
            {
                if (Volatile.Read(ref inFlight) >= maxInFlight)
                {
                    Tally.AddNotSent(1);
                    continue;
                }
                Interlocked.Increment(ref inFlight);
                Tally.AddSent();
                requests.Add(SendAsync(n++));
            }
            await timer.WaitForNextTickAsync(cancellationToken);
        }
        abandon.CancelAfter(Cleanup);
        await Task.WhenAll(requests);

        async Task SendAsync(long k)
        {
            try
            {
                var (status, message) = await request(k, abandon.Token);
                Tally.Http(status, message);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                Tally.Got("abandoned unanswered at the end");
            }
            finally
            {
                Interlocked.Decrement(ref inFlight);
            }
        }
    }

    /// <summary>The attacks of <paramref name="kinds"/>; the SYNC and receipt floods share one conversation's history.</summary>
    public static IReadOnlyList<Attack> Create(IReadOnlyList<AttackKind> kinds, int historyMessages)
    {
        var history = kinds.Any(k => k is AttackKind.SyncFlood or AttackKind.ReceiptFlood) ? new SharedHistory(historyMessages) : null;
        return
        [
            .. kinds.Select<AttackKind, Attack>(kind => kind switch
            {
                AttackKind.BadContent => new BadContentAttack(),
                AttackKind.SyncFlood => new SyncFloodAttack(history!),
                AttackKind.ReceiptFlood => new ReceiptFloodAttack(history!),
                AttackKind.LoginFlood => new LoginFloodAttack(),
                AttackKind.RegistrationFlood => new RegistrationFloodAttack(),
                AttackKind.SocketFlood => new SocketFloodAttack(),
                AttackKind.SlowReader => new SlowReaderAttack(),
                AttackKind.ChatFlood => new ChatFloodAttack(),
                _ => throw new ArgumentOutOfRangeException(nameof(kinds), kind, null),
            }),
        ];
    }
}
