using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Hosting.Database;

/// <summary>
/// Keeps a SQLite database's write-ahead log short, in the background, with <see cref="SqliteLog"/>.
/// Connections have automatic checkpoints off (<see cref="SqlitePragmas"/>): SQLite would otherwise run one
/// inside the commit that crosses its threshold, and that commit (with every SENT ack waiting on it) would
/// also wait for the copy and an fsync of the database file. Instead, once a second, and at once when a
/// commit finds the log past half its bound, a PASSIVE checkpoint here copies what it can, waiting for no
/// reader or writer; a log still past half its bound is then restarted by the next commit, or here when no
/// commit comes within <see cref="NoCommitWithin"/>.
/// <para>
/// It runs on a thread of its own: a timer on the thread pool fires late exactly when the pool is busiest,
/// which is when the log grows fastest.
/// </para>
/// </summary>
internal sealed class SqliteCheckpointer(string connectionString, SqliteLog log, string service, TimeProvider time, ILogger<SqliteCheckpointer> logger)
    : IHostedService, IDisposable
{
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(1);
    /// <summary>How often the log file is looked at besides the commits' wake-ups (for writes outside EF Core's transactions).</summary>
    public static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);
    /// <summary>A restart asked for when no commit has come for this long is run by the checkpointer itself: the writers are idle.</summary>
    public static readonly TimeSpan NoCommitWithin = TimeSpan.FromMilliseconds(100);

    /// <summary>Its own connection, outside the pool, so that its busy timeout never reaches a service's connections.</summary>
    private readonly string _connectionString = new SqliteConnectionStringBuilder(connectionString) { Pooling = false }.ToString();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private SqliteConnection? _connection;
    private int _pageSize;
    private Thread? _thread;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _thread = new Thread(Run) { IsBackground = true, Name = $"sqlite-checkpoint-{service}" };
        _thread.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        _thread?.Join();
        // Leave a short log behind: the next start reads it back.
        Checkpoint("TRUNCATE", SqliteLog.RestartWait);
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _thread?.Join();
        lock (_gate)
        {
            _connection?.Dispose();
            _connection = null;
        }
        _stopping.Dispose();
    }

    private void Run()
    {
        var lastPassive = time.GetTimestamp();
        long lastSeen = -1;
        var waits = new[] { _stopping.Token.WaitHandle, log.Wake };
        while (WaitHandle.WaitAny(waits, Poll) != 0)
        {
            if (log.WantedWithoutCommits(NoCommitWithin))
            {
                RestartHere();
                continue;
            }
            if (log.Running)
                continue;
            var size = log.FileBytes();
            // A file past the trigger that has not changed since it was last looked at is a log already
            // restarted and not yet cut back (the next commit does that): nothing to do until it changes.
            var grown = size >= log.Bound.TriggerBytes && size != lastSeen;
            if (!grown && time.GetElapsedTime(lastPassive) < Every)
                continue;
            lastSeen = size;
            lastPassive = time.GetTimestamp();
            if (Checkpoint("PASSIVE", TimeSpan.Zero) is { LogFrames: >= 0 } passive && LogBytes(passive.LogFrames) is var bytes && bytes >= log.Bound.TriggerBytes)
                log.Want(bytes);
        }
    }

    private void RestartHere()
    {
        lock (_gate)
        {
            try
            {
                log.RunIfWanted(Open(), 0, byCommit: false);
            }
            catch (SqliteException ex)
            {
                Drop(ex, "RESTART");
            }
        }
    }

    private long LogBytes(long frames) => 32 + frames * (_pageSize + 24L);

    internal sealed record Result(bool Busy, long LogFrames, long CheckpointedFrames);

    /// <summary>
    /// Runs <c>PRAGMA wal_checkpoint(<paramref name="mode"/>)</c> with <paramref name="wait"/> as the busy
    /// timeout; null when it failed.
    /// </summary>
    internal Result? Checkpoint(string mode, TimeSpan wait)
    {
        lock (_gate)
        {
            try
            {
                var connection = Open();
                using var command = connection.CreateCommand();
                command.CommandText = $"PRAGMA busy_timeout = {(int)wait.TotalMilliseconds}";
                command.ExecuteNonQuery();
                command.CommandText = $"PRAGMA wal_checkpoint({mode})";
                Result? result;
                using (var reader = command.ExecuteReader())
                    result = reader.Read() ? new Result(reader.GetInt64(0) != 0, reader.GetInt64(1), reader.GetInt64(2)) : null;
                if (result is { LogFrames: < 0 })
                {
                    // Not in WAL mode as this connection sees it: it opened the file before the migration
                    // switched it to WAL, and a checkpoint reads no header. The next round opens a new one.
                    _connection?.Dispose();
                    _connection = null;
                }
                return result;
            }
            catch (SqliteException ex)
            {
                Drop(ex, mode);
                return null;
            }
        }
    }

    /// <summary>The next round tries again, on a new connection (this one may be what failed); the log only grows meanwhile.</summary>
    private void Drop(SqliteException ex, string mode)
    {
        logger.LogWarning("Checkpoint ({Mode}) of the {Service} database failed: {Error}", mode, service, ex.Message);
        _connection?.Dispose();
        _connection = null;
    }

    private SqliteConnection Open()
    {
        if (_connection is not null)
            return _connection;
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "PRAGMA page_size";
            _pageSize = Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }
        _connection = connection;
        return connection;
    }
}
