using System.Diagnostics;
using System.Globalization;
using System.Text;
using EasyIm.LoadTest.Targets;
using EasyIm.LoadTest.Wire;
using static EasyIm.LoadTest.Reporting.Figures;

namespace EasyIm.LoadTest.Abuse;

/// <summary>One user opening socket after socket (the shipped cap is 10 live ones), holding every one the server accepts.</summary>
public sealed class SocketFloodAttack() : Attack(AttackKind.SocketFlood)
{
    public const double PerSecond = 10;
    public const int Sockets = 60;

    private Account _attacker = null!;

    public override string Description => $"one user, {PerSecond:F0} new sockets/s, {Sockets} in all, each accepted one held open";

    public override string Unit => "sockets";

    public override async Task PrepareAsync(AttackContext context, CancellationToken cancellationToken) =>
        _attacker = await context.RegisterAsync(context.AccountName("sockets"), cancellationToken);

    public override async Task RunAsync(AttackContext context, long until, CancellationToken cancellationToken)
    {
        var opening = new List<Task<LoadConnection?>>();
        var pacer = new Pacer(PerSecond, Now, Stopwatch.Frequency);
        using (var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10)))
        {
            while (Now < until && opening.Count < Sockets)
            {
                var (due, skipped) = pacer.Take(Now);
                Tally.AddNotSent(skipped);
                for (; due > 0 && opening.Count < Sockets; due--)
                {
                    Tally.AddSent();
                    opening.Add(context.TryConnectAsync(_attacker, Tally, cancellationToken));
                }
                await timer.WaitForNextTickAsync(cancellationToken);
            }
        }
        var connections = (await Task.WhenAll(opening)).OfType<LoadConnection>().ToList();
        var left = (double)(until - Now) / Stopwatch.Frequency;
        if (left > 0)
            await Task.Delay(TimeSpan.FromSeconds(left), cancellationToken);
        Tally.Note($"{Count(connections.Count)} of {Count(opening.Count)} sockets accepted, {Count(connections.Count(c => !c.IsClosed))} still open at the end");
        await Task.WhenAll(connections.Select(c => c.CloseAsync(TimeSpan.FromSeconds(1))));
    }
}

/// <summary>
/// A user whose two sockets stop reading once authenticated (a small receive buffer, so the kernel holds
/// little) while two friends send it 15,000-character messages at 50 a second each, within the rate
/// limit: what the server queues for the sockets grows by 1.5 MB a second each unless it drops them. At
/// the end the sockets read again, to see what the server kept for them and whether it had closed them.
/// </summary>
public sealed class SlowReaderAttack() : Attack(AttackKind.SlowReader)
{
    public const double PerSecondPerSender = 50;
    public const int ContentLength = 15_000;
    public const int ReaderSockets = 2;
    private const int ReceiveBufferBytes = 16 * 1024;

    private static readonly byte[] Content = Encoding.ASCII.GetBytes(new string('y', ContentLength));

    private Account _reader = null!;
    private Account[] _senders = [];

    public override string Description =>
        $"{ReaderSockets} sockets of one user stop reading (receive buffer {ReceiveBufferBytes / 1024} KiB); 2 friends send it {ContentLength:N0}-character " +
        $"messages at {PerSecondPerSender:F0}/s each; at the end the sockets read again";

    public override string Unit => "15 KB messages";

    public override async Task PrepareAsync(AttackContext context, CancellationToken cancellationToken)
    {
        _reader = await context.RegisterAsync(context.AccountName("reader"), cancellationToken);
        _senders = [await context.RegisterAsync(context.AccountName("writer_1"), cancellationToken), await context.RegisterAsync(context.AccountName("writer_2"), cancellationToken)];
        foreach (var sender in _senders)
            await context.BefriendAsync(sender, _reader, cancellationToken);
    }

    public override async Task RunAsync(AttackContext context, long until, CancellationToken cancellationToken)
    {
        // The readers' answers are counted apart from the senders': what the server did to each is the point.
        var readerTally = new AttackTally();
        var readers = (await Task.WhenAll(Enumerable.Range(0, ReaderSockets)
            .Select(_ => context.TryConnectAsync(_reader, readerTally, cancellationToken, ReceiveBufferBytes)))).OfType<LoadConnection>().ToList();
        foreach (var reader in readers)
            reader.PauseReceiving();
        var readBefore = readers.Select(r => r.BytesReceived).ToList();
        await Task.WhenAll(_senders.Select(sender => PacedAsync(new HostileSession(context, sender, Tally, MaxConnects), PerSecondPerSender, until,
            (connection, n) => connection.EnqueueChat(_reader.Id, 0, Content, Encoding.ASCII.GetBytes("big-" + n.ToString(CultureInfo.InvariantCulture)), (uint)(n + 1)),
            cancellationToken, chat: true)));

        for (var i = 0; i < readers.Count; i++)
        {
            var reader = readers[i];
            reader.ResumeReceiving();
            await QuietAsync(reader, cancellationToken);
            var read = reader.BytesReceived - readBefore[i];
            Tally.Note($"reader socket {i + 1}: {Number(read / 1e6, 1)} MB read after it read again, then " +
                (reader.IsClosed && !reader.ClosedByClient ? $"found closed by the server ({reader.CloseReason})" : "still open"));
        }
        Tally.Note("the reader's sockets got: " + (readerTally.Summary() is { Count: > 0 } got ? string.Join(", ", got) : "nothing"));
        await Task.WhenAll(readers.Select(r => r.CloseAsync(TimeSpan.FromSeconds(1))));
    }
}
