using System.Diagnostics;
using EasyIm.Hosting;
using EasyIm.Hosting.Database;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace EasyIm.UnitTests.Hosting;

/// <summary>
/// The SQLite write-ahead log stays under <c>Database:SqliteWalLimitMB</c> under a writer that never
/// stops and readers that always hold a snapshot: the load under which passive checkpoints starve (they
/// copy frames but never get to restart the log, which grew 40 MB/s to 12.5 GB). The database is wired
/// exactly as a service's is (<see cref="DatabaseSetup.AddServiceDatabase{TContext,TSqlite,TPostgres}"/>),
/// with a bound of 4 MB so the test runs in seconds.
/// </summary>
public sealed class SqliteWalBoundTests(ITestOutputHelper output) : IDisposable
{
    private const int LimitMb = 4;
    private const long Limit = LimitMb * 1024L * 1024;
    /// <summary>
    /// What the log may pass the bound by (docs/architecture.md, "Storage"): a commit past three quarters
    /// of the bound restarts the log before the next one starts, so what is over is that commit's and, if
    /// a reader kept the restart from completing, the next one's.
    /// </summary>
    private const long Slack = Limit / 4;
    private const int RowBytes = 2000;
    private const int RowsPerCommit = 100;

    private readonly string _directory = Directory.CreateTempSubdirectory("easyim-wal-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task The_log_stays_under_its_bound_under_a_sustained_writer_and_readers_that_always_hold_a_snapshot()
    {
        using var host = Build(new Dictionary<string, string?> { [DatabaseSetup.SqliteWalLimitKey] = LimitMb.ToString() });
        await StartAsync(host);
        Execute(host, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
        var wal = Path.Combine(_directory, "waltest.db-wal");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // Sampling, not waiting: the file's size every millisecond for as long as the load runs, on threads
        // of their own so that a busy thread pool cannot hide a peak (or starve the readers).
        var samples = new List<long>();
        var sampler = StartThread(() =>
        {
            while (!stop.Token.WaitHandle.WaitOne(1))
                samples.Add(File.Exists(wal) ? new FileInfo(wal).Length : 0);
        });
        var readTransactions = new int[3];
        var readers = Enumerable.Range(0, readTransactions.Length).Select(i => StartThread(() => WithConnection(host, connection =>
        {
            // Back to back, each holding a snapshot for a few pages of the newest rows, as sync and history
            // reads do: with three of them there is always a reader on some snapshot, which is what starves
            // passive checkpoints. Deferred: Microsoft.Data.Sqlite's default BEGIN IMMEDIATE would make each a writer.
            while (!stop.IsCancellationRequested)
            {
                using var transaction = connection.BeginTransaction(deferred: true);
                Scalar(connection, "SELECT sum(length(v)) FROM (SELECT v FROM t ORDER BY id DESC LIMIT 500)", transaction);
                Scalar(connection, "SELECT count(*) FROM t WHERE id > (SELECT max(id) - 5000 FROM t)", transaction);
                transaction.Commit();
                readTransactions[i]++;
            }
        }))).ToList();

        // The writer: commits of 200 KB without pause until it has written 16 times the bound.
        long written = 0;
        var watch = Stopwatch.StartNew();
        var writer = StartThread(() =>
        {
            // As the services write: in EF Core transactions (the send path's group commits, SaveChanges).
            using var scope = host.Services.CreateScope();
            var db = scope.ServiceProvider.GetRequiredService<WalTestDbContext>();
            while (written < 16 * Limit && !stop.IsCancellationRequested)
            {
                using var transaction = db.Database.BeginTransaction();
                db.Database.ExecuteSqlRaw(
                    $"WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {RowsPerCommit}) INSERT INTO t (v) SELECT randomblob({RowBytes}) FROM n");
                transaction.Commit();
                written += RowsPerCommit * RowBytes;
            }
        });
        writer.Join();
        var elapsed = watch.Elapsed;
        await stop.CancelAsync();
        readers.ForEach(r => r.Join());
        sampler.Join();
        await StopAsync(host);
        Assert.Null(_failure);

        var max = samples.Max();
        output.WriteLine($"{written >> 20} MB written in {elapsed.TotalSeconds:F1} s ({(written >> 20) / elapsed.TotalSeconds:F1} MB/s); " +
            $"{readTransactions.Sum()} read transactions; the log file peaked at {max / 1024.0 / 1024:F2} MB over {samples.Count} samples");
        Assert.True(written >= 16 * Limit, $"the writer wrote only {written / 1024 / 1024} MB in {elapsed.TotalSeconds:F1} s");
        Assert.All(readTransactions, n => Assert.True(n >= 20, $"a reader finished only {n} read transactions"));
        Assert.True(max <= Limit + Slack,
            $"the log reached {max / 1024.0 / 1024:F1} MB (bound {LimitMb} MB + {Slack / 1024 / 1024.0:F1} MB slack) while " +
            $"{written / 1024 / 1024} MB were written in {elapsed.TotalSeconds:F1} s; {samples.Count} samples");
        // And the file shrank back after growing (journal_size_limit): not one large file reused forever.
        var peak = samples.FindIndex(s => s >= Limit / 2);
        Assert.True(peak >= 0 && samples.Skip(peak).Any(s => s <= Limit / 4 + RowsPerCommit * RowBytes * 2),
            $"the file never shrank back to a quarter of the bound after reaching half of it (last {samples[^1]} bytes)");
    }

    [Fact]
    public async Task A_log_left_past_half_its_bound_by_writers_gone_idle_is_restarted_by_the_checkpointer()
    {
        using var host = Build(new Dictionary<string, string?> { [DatabaseSetup.SqliteWalLimitKey] = LimitMb.ToString() });
        await StartAsync(host);
        Execute(host, "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
        var log = host.Services.GetRequiredKeyedService<SqliteLog>("waltest");

        // One transaction of 3 MB (past half the bound, below three quarters), outside EF Core, then nothing more.
        WithConnection(host, connection =>
        {
            using var transaction = connection.BeginTransaction();
            Scalar(connection, $"WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1500) INSERT INTO t (v) SELECT randomblob({RowBytes}) FROM n", transaction);
            transaction.Commit();
        });

        // No commit comes to run the restart: the checkpointer runs it.
        // Bounded generously: the checkpointer runs every second, but a full parallel test run can starve it for a while.
        await EventuallyAsync(() => log.Restarts > 0, TimeSpan.FromSeconds(45), "the checkpointer to restart the log");
        // And the next commit starts the log again from its beginning, cutting the file back to a quarter of the bound.
        Execute(host, "INSERT INTO t (v) VALUES (randomblob(10))");
        Assert.True(log.FileBytes() <= Limit / 4, $"the log file is {log.FileBytes()} bytes");
        await StopAsync(host);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds, failing after <paramref name="timeout"/>.</summary>
    private static async Task EventuallyAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (!condition())
        {
            if (deadline.IsCancellationRequested)
                Assert.Fail($"timed out after {timeout.TotalSeconds} s waiting for {what}");
            await Task.Delay(10);
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("lots")]
    [InlineData("2000000")]
    public void A_wal_bound_that_cannot_work_stops_the_start_naming_its_key(string value)
    {
        var error = Assert.Throws<StartupException>(() => Build(new Dictionary<string, string?> { [DatabaseSetup.SqliteWalLimitKey] = value }));

        Assert.Contains(DatabaseSetup.SqliteWalLimitKey, error.Message);
        Assert.Contains(value, error.Message);
    }

    private IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration["EasyIm:DataDirectory"] = _directory;
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddLogging();
        builder.AddServiceDatabase<WalTestDbContext, SqliteWalTestDbContext, PostgresWalTestDbContext>("waltest");
        return builder.Build();
    }

    private static async Task StartAsync(IHost host)
    {
        foreach (var service in host.Services.GetServices<IHostedService>())
            await service.StartAsync(CancellationToken.None);
    }

    private static async Task StopAsync(IHost host)
    {
        foreach (var service in host.Services.GetServices<IHostedService>().Reverse())
            await service.StopAsync(CancellationToken.None);
    }

    private Exception? _failure;

    /// <summary>A thread of its own for a part of the load; what it throws fails the test.</summary>
    private Thread StartThread(Action work)
    {
        var thread = new Thread(() =>
        {
            try
            {
                work();
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref _failure, ex, null);
            }
        }) { IsBackground = true };
        thread.Start();
        return thread;
    }

    /// <summary>Runs <paramref name="work"/> on a connection the service's DbContext opened (so with every pragma it sets).</summary>
    private static void WithConnection(IHost host, Action<SqliteConnection> work)
    {
        using var scope = host.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<WalTestDbContext>();
        db.Database.OpenConnection();
        try
        {
            work((SqliteConnection)db.Database.GetDbConnection());
        }
        finally
        {
            db.Database.CloseConnection();
        }
    }

    private static void Execute(IHost host, string sql) => WithConnection(host, c => Scalar(c, sql));

    private static void Scalar(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.ExecuteScalar();
    }
}

public abstract class WalTestDbContext(DbContextOptions options) : DbContext(options);

public sealed class SqliteWalTestDbContext(DbContextOptions<SqliteWalTestDbContext> options) : WalTestDbContext(options);

public sealed class PostgresWalTestDbContext(DbContextOptions<PostgresWalTestDbContext> options) : WalTestDbContext(options);
