using EasyIm.Hosting.Database;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace EasyIm.UnitTests.Hosting;

public sealed class SqliteCheckpointerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("easyim-checkpoint-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void Commits_leave_the_log_to_grow_and_the_checkpointer_folds_it_into_the_database()
    {
        var connectionString = DatabaseSetup.SqliteConnectionString(_directory, "unit");
        var wal = Path.Combine(_directory, "unit.db-wal");
        // Held open to the end: when the last connection to a database closes (another test class's
        // ClearAllPools closes idle pooled ones at any moment), SQLite checkpoints and deletes the log itself.
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        Execute(connection, "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (v TEXT);");
        // Past SQLite's default automatic checkpoint (1,000 pages): with it on, the log would have been folded already.
        for (var i = 0; i < 3000; i++)
            Execute(connection, $"INSERT INTO t VALUES ('{new string('x', 2000)}');");
        var before = new FileInfo(wal).Length;

        var log = new SqliteLog("unit", wal, new SqliteWalBound(256L << 20), TimeProvider.System, NullLogger.Instance);
        using (var checkpointer = new SqliteCheckpointer(connectionString, log, "unit", TimeProvider.System, NullLogger<SqliteCheckpointer>.Instance))
            checkpointer.Checkpoint("TRUNCATE", TimeSpan.FromMilliseconds(100));

        Assert.True(before > 4 * 1024 * 1024, $"the log held only {before} bytes");
        Assert.Equal(0, new FileInfo(wal).Length);
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT count(*) FROM t";
        Assert.Equal(3000L, count.ExecuteScalar());
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
