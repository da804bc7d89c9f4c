using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Logging;

namespace EasyIm.Hosting.Database;

/// <summary>
/// How large a SQLite database's write-ahead log may grow (<c>Database:SqliteWalLimitMB</c>). Past half the
/// limit the log is restarted (<see cref="SqliteLog"/>), waiting longer for readers past three quarters;
/// <c>journal_size_limit</c> (<see cref="ShrinkBytes"/>, set on every connection) makes the first commit
/// after a restart cut the file back.
/// </summary>
public sealed record SqliteWalBound(long LimitBytes)
{
    public const int DefaultLimitMb = 256;

    /// <summary>The log's size from which a restart is asked for, leaving half the bound for what writers append meanwhile.</summary>
    public long TriggerBytes => LimitBytes / 2;

    /// <summary>The log's size from which keeping the bound comes before the writers' pause (<see cref="SqliteLog.UrgentWait"/>).</summary>
    public long UrgentBytes => LimitBytes / 4 * 3;

    /// <summary>What the file is cut back to after a restart; the space below it is reused, not reallocated.</summary>
    public long ShrinkBytes => LimitBytes / 4;
}

/// <summary>
/// Keeping one SQLite database's write-ahead log under its bound (<see cref="SqliteWalBound"/>), with the
/// background <see cref="SqliteCheckpointer"/>.
/// <para>
/// Passive checkpoints alone starve under sustained writes and readers: the log is only restarted when a
/// writer finds every frame copied and no reader on any, which never happens while readers overlap (the log
/// grew 40 MB/s for as long as the load lasted). A RESTART checkpoint makes it happen: it holds new writers
/// back, copies the frames the passive checkpoints left, waits for the readers still on old frames to finish
/// (they are never interrupted), and then the next writer starts the log again from its beginning.
/// </para>
/// <para>
/// It needs the write lock, and SQLite's locks are not queued: a checkpointer polling for it (as its busy
/// handler does, 1, 2, 5, ... ms apart) almost never finds it free under a writer that commits back to back.
/// So the restart is run by the service's commits, on the committing connection, right after the commit let
/// go of the lock (<see cref="SqliteRestartOnCommit"/>), and the readers are waited for by trying again every
/// millisecond rather than at the busy handler's widening steps. Each commit looks at the log file (one
/// <c>stat</c>): past half the bound it wakes the checkpointer, whose passive checkpoint copies the log without
/// stopping anyone and then asks the next commit for the restart, which has only what was appended since to
/// copy; past three quarters the commit restarts the log at once. The commit that restarts waits: for that
/// copy and for the readers on old frames, at most <see cref="RestartWait"/> (<see cref="UrgentWait"/> past
/// three quarters, or after a restart readers kept from completing). That is the writers' whole pause.
/// </para>
/// </summary>
internal sealed class SqliteLog(string service, string walPath, SqliteWalBound bound, TimeProvider time, ILogger logger)
{
    /// <summary>How long a restart may hold writers back waiting for readers, below three quarters of the bound.</summary>
    public static readonly TimeSpan RestartWait = TimeSpan.FromMilliseconds(100);
    /// <summary>The same past three quarters of the bound, where keeping the bound comes before the writers' pause.</summary>
    public static readonly TimeSpan UrgentWait = TimeSpan.FromSeconds(1);

    private const int Idle = 0;
    private const int Wanted = 1;
    private const int WantedUrgently = 2;
    private const int RunningState = 3;
    private static readonly TimeSpan WarnEvery = TimeSpan.FromSeconds(10);

    private readonly AutoResetEvent _wake = new(false);
    private int _state;
    private long _wantedAt;
    private long _lastCommit;
    private int _failed;
    private long _lastWarning;
    private int _restarts;

    public SqliteWalBound Bound => bound;

    public string WalPath => walPath;

    /// <summary>Set by a commit that found the log past half its bound: the checkpointer should copy it now.</summary>
    public WaitHandle Wake => _wake;

    /// <summary>Restarts of the log so far.</summary>
    public int Restarts => Volatile.Read(ref _restarts);

    /// <summary>Whether a restart is running: checkpoints meanwhile would only take the checkpoint lock from it.</summary>
    public bool Running => Volatile.Read(ref _state) == RunningState;

    /// <summary>The log file's size now (0 when there is none).</summary>
    public long FileBytes()
    {
        try
        {
            var file = new FileInfo(walPath);
            return file.Exists ? file.Length : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Asks the next commit for a restart of a log of <paramref name="logBytes"/> (the checkpointer, after its passive checkpoint).</summary>
    public void Want(long logBytes)
    {
        var urgent = logBytes >= bound.UrgentBytes || Volatile.Read(ref _failed) > 0;
        if (Interlocked.CompareExchange(ref _state, urgent ? WantedUrgently : Wanted, Idle) == Idle)
            Interlocked.Exchange(ref _wantedAt, time.GetTimestamp());
        else if (urgent)
            Interlocked.CompareExchange(ref _state, WantedUrgently, Wanted);
    }

    /// <summary>Whether a restart is asked for and no commit has come to run it within <paramref name="within"/>: the writers are idle.</summary>
    public bool WantedWithoutCommits(TimeSpan within) =>
        Volatile.Read(ref _state) is Wanted or WantedUrgently
        && time.GetElapsedTime(Interlocked.Read(ref _wantedAt)) >= within
        && time.GetElapsedTime(Interlocked.Read(ref _lastCommit)) >= within;

    /// <summary>A commit of the service's, on <paramref name="connection"/> (which holds no transaction now).</summary>
    public void Committed(DbConnection connection)
    {
        Interlocked.Exchange(ref _lastCommit, time.GetTimestamp());
        // After a restart, the commit that starts the log again cuts the file back (journal_size_limit), so a
        // file past half the bound here is a log past half the bound.
        var bytes = FileBytes();
        if (bytes >= bound.UrgentBytes)
            Want(bytes);
        else if (bytes >= bound.TriggerBytes && Volatile.Read(ref _state) == Idle)
            _wake.Set();
        RunIfWanted(connection, SqlitePragmas.BusyTimeoutMs, byCommit: true);
    }

    /// <summary>
    /// Runs the restart asked for, if any and if no one else is running it, on <paramref name="connection"/>,
    /// which must hold no transaction; then sets the connection's busy timeout to <paramref name="busyTimeoutMs"/>.
    /// Not <paramref name="byCommit"/> (the checkpointer, writers being idle), it tries for <see cref="RestartWait"/>
    /// at most and, failing, leaves the restart to the next commit: a writer that came back holds the lock more
    /// often than not, and must not go on unchecked meanwhile.
    /// </summary>
    public void RunIfWanted(DbConnection connection, int busyTimeoutMs, bool byCommit)
    {
        var state = Volatile.Read(ref _state);
        if (state is not (Wanted or WantedUrgently) || Interlocked.CompareExchange(ref _state, RunningState, state) != state)
            return;
        var restarted = false;
        try
        {
            restarted = Restart(connection, byCommit && state == WantedUrgently, busyTimeoutMs, byCommit);
        }
        finally
        {
            Volatile.Write(ref _state, restarted || byCommit ? Idle : state);
        }
    }

    private bool Restart(DbConnection connection, bool urgent, int busyTimeoutMs, bool byCommit)
    {
        var wait = urgent ? UrgentWait : RestartWait;
        var started = time.GetTimestamp();
        var attempts = 0;
        var restarted = false;
        try
        {
            using var command = connection.CreateCommand();
            // No busy handler: a busy attempt comes straight back and is tried again a millisecond later.
            command.CommandText = "PRAGMA busy_timeout = 0";
            command.ExecuteNonQuery();
            try
            {
                command.CommandText = "PRAGMA wal_checkpoint(RESTART)";
                while (true)
                {
                    attempts++;
                    using (var reader = command.ExecuteReader())
                        restarted = reader.Read() && reader.GetInt64(0) == 0;
                    if (restarted || time.GetElapsedTime(started) >= wait)
                        break;
                    Thread.Sleep(1);
                }
            }
            finally
            {
                command.CommandText = $"PRAGMA busy_timeout = {busyTimeoutMs}";
                command.ExecuteNonQuery();
            }
        }
        catch (SqliteException ex)
        {
            logger.LogWarning("Restarting the {Service} database's log failed: {Error}", service, ex.Message);
        }
        var took = time.GetElapsedTime(started);
        if (restarted)
        {
            Interlocked.Increment(ref _restarts);
            Volatile.Write(ref _failed, 0);
            logger.LogDebug("Restarted the {Service} database's log after {Attempts} attempts; writers waited {Milliseconds} ms",
                service, attempts, (int)took.TotalMilliseconds);
            return true;
        }
        if (!byCommit)
            return false;
        Interlocked.Increment(ref _failed);
        if (urgent && time.GetElapsedTime(Interlocked.Read(ref _lastWarning)) >= WarnEvery)
        {
            Interlocked.Exchange(ref _lastWarning, time.GetTimestamp());
            logger.LogWarning("The {Service} database's log ({Megabytes} MB, bound {LimitMegabytes} MB) could not be restarted: a reader held an old " +
                "snapshot for over {Milliseconds} ms; trying again", service, FileBytes() >> 20, bound.LimitBytes >> 20, (int)took.TotalMilliseconds);
        }
        return false;
    }
}

/// <summary>Hands every commit of a service's SQLite database to its <see cref="SqliteLog"/>, on the connection that committed.</summary>
internal sealed class SqliteRestartOnCommit(SqliteLog log) : DbTransactionInterceptor
{
    public override void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Run(eventData.Context);

    public override Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        // SQLite's calls are synchronous under their async names anyway.
        Run(eventData.Context);
        return Task.CompletedTask;
    }

    /// <summary>The committed transaction has let go of its connection; the context still holds it, open.</summary>
    private void Run(DbContext? context)
    {
        if (context is not null)
            log.Committed(context.Database.GetDbConnection());
    }
}
