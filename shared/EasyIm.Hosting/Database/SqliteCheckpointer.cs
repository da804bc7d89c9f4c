using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Hosting.Database;

/// <summary>
/// Copies a SQLite database's write-ahead log into the database file in the background, once a second.
/// Connections have automatic checkpoints off (<see cref="SqlitePragmas"/>): SQLite would otherwise run
/// one inside the commit that crosses its threshold, and that commit (with every SENT ack waiting on
/// it) would also wait for the copy and an fsync of the database file. A passive checkpoint waits for
/// no reader or writer, so the writer goes on appending meanwhile.
/// </summary>
internal sealed class SqliteCheckpointer(string connectionString, string service, TimeProvider time, ILogger<SqliteCheckpointer> logger) : BackgroundService
{
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Every, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
                Checkpoint("PASSIVE");
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // Leave a short log behind: the next start reads it back.
        Checkpoint("TRUNCATE");
    }

    internal void Checkpoint(string mode)
    {
        try
        {
            using var connection = new SqliteConnection(connectionString);
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"PRAGMA busy_timeout = 100; PRAGMA wal_checkpoint({mode});";
            command.ExecuteNonQuery();
        }
        catch (SqliteException ex)
        {
            // The next tick tries again; the log only grows meanwhile.
            logger.LogWarning("Checkpoint of the {Service} database failed: {Error}", service, ex.Message);
        }
    }
}
