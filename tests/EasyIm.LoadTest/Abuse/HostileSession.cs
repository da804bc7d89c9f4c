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

    /// <summary>Connections tried so far.</summary>
    public int Connects { get; private set; }

    public LoadConnection? Open => _connection is { IsClosed: false } open ? open : null;

    /// <summary>No connection open and none left to try.</summary>
    public bool Exhausted => Connects >= maxConnects && Open is null;

    /// <summary>The open connection, or a new one when the last is gone and one may be tried now; null when there is none now.</summary>
    public async Task<LoadConnection?> ConnectAsync(CancellationToken cancellationToken)
    {
        if (Open is { } open)
            return open;
        if (Connects >= maxConnects || Stopwatch.GetTimestamp() < _notBefore)
            return null;
        Connects++;
        _notBefore = Stopwatch.GetTimestamp() + (long)(RetryAfter.TotalSeconds * Stopwatch.Frequency);
        _connection = await context.TryConnectAsync(account, tally, cancellationToken);
        return _connection;
    }

    public async Task CloseAsync()
    {
        if (_connection is { } connection)
            await connection.CloseAsync(TimeSpan.FromSeconds(1));
    }
}
