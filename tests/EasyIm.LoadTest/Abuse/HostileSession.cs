using System.Diagnostics;
using EasyIm.LoadTest.Targets;
using EasyIm.LoadTest.Wire;

namespace EasyIm.LoadTest.Abuse;

/// <summary>
/// A hostile user's connection that comes back when the server closes it, as an attacker's would: a
/// new connection at most every <see cref="RetryAfter"/>, at most <c>maxConnects</c> in all, so the
/// attack ends by itself once the server keeps refusing it.
/// </summary>
public sealed class HostileSession(AttackContext context, Account account, AttackTally tally, int maxConnects)
{
    public static readonly TimeSpan RetryAfter = TimeSpan.FromMilliseconds(250);

    private LoadConnection? _connection;
    private long _notBefore;
    private long _sentOnConnection;
    private long _answeredOnConnection;
    private long _unansweredBefore;

    /// <summary>Connections tried so far.</summary>
    public int Connects { get; private set; }

    public LoadConnection? Open => _connection is { IsClosed: false } open ? open : null;

    /// <summary>No connection open and none left to try.</summary>
    public bool Exhausted => Connects >= maxConnects && Open is null;

    /// <summary>Chat messages sent on the current connection still without their SENT ack or FAIL.</summary>
    public long Awaiting => Interlocked.Read(ref _sentOnConnection) - Interlocked.Read(ref _answeredOnConnection);

    /// <summary>Chat messages never answered: those still awaiting, and those on connections the server closed first.</summary>
    public long Unanswered => _unansweredBefore + Awaiting;

    /// <summary>Counts chat messages sent on the current connection, each of which the server owes an answer.</summary>
    public void Sent(long count) => Interlocked.Add(ref _sentOnConnection, count);

    /// <summary>The open connection, or a new one when the last is gone and one may be tried now; null when there is none now.</summary>
    public async Task<LoadConnection?> ConnectAsync(CancellationToken cancellationToken)
    {
        if (Open is { } open)
            return open;
        if (Connects >= maxConnects || Stopwatch.GetTimestamp() < _notBefore)
            return null;
        Connects++;
        _notBefore = Stopwatch.GetTimestamp() + (long)(RetryAfter.TotalSeconds * Stopwatch.Frequency);
        _unansweredBefore += Awaiting;
        Interlocked.Exchange(ref _sentOnConnection, 0);
        Interlocked.Exchange(ref _answeredOnConnection, 0);
        _connection = await context.TryConnectAsync(account, tally, cancellationToken,
            handler: new TallyHandler(tally, () => Interlocked.Increment(ref _answeredOnConnection)));
        return _connection;
    }

    public async Task CloseAsync()
    {
        if (_connection is { } connection)
            await connection.CloseAsync(TimeSpan.FromSeconds(1));
    }
}
