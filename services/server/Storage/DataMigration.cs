using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using EasyIm.Hosting;
using EasyIm.Hosting.Database;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Npgsql;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

namespace EasyIm.Server.Storage;

/// <summary>
/// <c>easyim migrate --from DIR --to CONNECTION</c>: a standalone server's SQLite data copied into an empty
/// PostgreSQL database, every table of every service's EF Core model (a table added to a model is copied
/// without a change here). Each table is read in batches in SQLite's rowid order (the key itself for integer
/// keys) and each batch is written in one PostgreSQL transaction with the table's progress in
/// <c>easyim_migrate.progress</c>, so a run interrupted anywhere continues on the next run after the last
/// committed batch, without duplicates. Then identity columns continue after the copied values, and every table
/// is verified: row count and an order-independent checksum of every column, source against target.
/// </summary>
/// <param name="interruptAfter">Tests only: the table (<c>service.table</c>) and rows of it after which the process ends
/// in the middle of a batch, as a kill would.</param>
public sealed class DataMigration(string sourceDirectory, string target, int batchSize, (string Table, long Rows)? interruptAfter, TextWriter output)
{
    public const int DefaultBatchSize = 1000;
    public const string ProgressSchema = "easyim_migrate";
    private const string ProgressTable = ProgressSchema + ".progress";

    /// <summary>The tables copied and verified, with what each held: source and target rows and checksums.</summary>
    public sealed record TableReport(string Service, string Table, long SourceRows, long TargetRows, ulong SourceChecksum, ulong TargetChecksum)
    {
        public bool Equal => SourceRows == TargetRows && SourceChecksum == TargetChecksum;
    }

    private sealed record Table(string Service, Type ContextType, IEntityType Source, IEntityType Target)
    {
        public string Name => Source.GetTableName()!;
        public string TargetName => $"\"{Target.GetSchema()}\".\"{Target.GetTableName()}\"";
        public Type ClrType => Source.ClrType;
    }

    /// <returns>0 when every table's count and checksum are equal, else 1.</returns>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        if (batchSize is < 1 or > 100_000)
            throw new StartupException($"--batch must be from 1 to 100000 rows, not {batchSize}.");
        var directory = Path.GetFullPath(sourceDirectory);
        if (!Directory.Exists(directory))
            throw new StartupException($"There is no data directory {directory} (--from).");
        var stores = ServiceStores.All.Where(s => File.Exists(Path.Combine(directory, s.FileName))).ToList();
        if (stores.Count == 0)
            throw new StartupException($"{directory} (--from) holds no easyim database ({string.Join(", ", ServiceStores.All.Select(s => s.FileName))}).");
        NpgsqlConnectionStringBuilder connection;
        try
        {
            connection = new NpgsqlConnectionStringBuilder(target);
        }
        catch (ArgumentException ex)
        {
            throw new StartupException($"--to must be a PostgreSQL connection string (Host=...;Username=...;Password=...;Database=...): {ex.Message}");
        }
        if (string.IsNullOrEmpty(connection.Database))
            throw new StartupException("--to must name its database (Database=...): the services' schemas are made in it.");

        // The source must not change while it is copied: no server may run on it, and none starts until this ends.
        using var held = DataDirectoryLock.TryExclusive(directory) ?? throw new StartupException(
            $"A server is using {directory}: stop it (easyim --stop), or back it up (easyim backup), restore the copy into another directory and migrate from that.");

        var settings = new Dictionary<string, string?>
        {
            [DatabaseSetup.ProviderKey] = "Postgres",
            ["ConnectionStrings:postgres"] = target,
        };
        foreach (var store in stores)
            settings[$"ConnectionStrings:{store.Service}"] = target;
        using var sourceHost = ServiceStores.BuildHost(stores, new Dictionary<string, string?>
        {
            [DatabaseSetup.ProviderKey] = "Sqlite",
            [EasyImConfiguration.DataDirectoryKey] = directory,
        });
        using var targetHost = ServiceStores.BuildHost(stores, settings);

        foreach (var database in sourceHost.Services.GetServices<IServiceDatabase>())
        {
            await using var scope = sourceHost.Services.CreateAsyncScope();
            var db = (DbContext)scope.ServiceProvider.GetRequiredService(database.ContextType);
            if ((await db.Database.GetPendingMigrationsAsync(cancellationToken)).Any())
                throw new StartupException($"{Path.Combine(directory, database.Service + ".db")} is of an older easyim: bring it up to date first (easyim migrate --data {directory}), then copy it.");
        }
        foreach (var database in targetHost.Services.GetServices<IServiceDatabase>())
            await database.MigrateAsync(targetHost.Services, cancellationToken);

        await using var control = new NpgsqlConnection(target);
        await control.OpenAsync(cancellationToken);
        // One copy into a database at a time; the lock goes with this connection.
        if (!(bool)(await ScalarAsync(control, "SELECT pg_try_advisory_lock(hashtext('easyim.migrate.copy'))", cancellationToken))!)
            throw new StartupException($"Another easyim migrate --from is copying into {connection.Database}: wait for it to finish.");
        await ExecuteAsync(control, $"CREATE SCHEMA IF NOT EXISTS {ProgressSchema}; CREATE TABLE IF NOT EXISTS {ProgressTable} (" +
            "service text NOT NULL, table_name text NOT NULL, source text NOT NULL, last_rowid bigint NOT NULL, " +
            "rows_copied bigint NOT NULL, done boolean NOT NULL, PRIMARY KEY (service, table_name))", cancellationToken);

        var tables = Tables(sourceHost, targetHost);
        await RefuseForeignDataAsync(control, tables, directory, cancellationToken);
        foreach (var table in tables)
            await CopyAsync(control, sourceHost, targetHost, table, directory, cancellationToken);
        await ContinueIdentitiesAsync(control, tables, cancellationToken);

        var reports = new List<TableReport>();
        foreach (var table in tables)
            reports.Add(await VerifyAsync(sourceHost, targetHost, table, cancellationToken));
        await output.WriteLineAsync($"{"table",-28} {"source rows",12} {"target rows",12}  checksum");
        foreach (var report in reports)
            await output.WriteLineAsync($"{report.Service + "." + report.Table,-28} {report.SourceRows,12} {report.TargetRows,12}  {(report.Equal ? "equal" : "DIFFERENT")}");
        var different = reports.Where(r => !r.Equal).ToList();
        if (different.Count > 0)
        {
            await Console.Error.WriteLineAsync($"easyim: {string.Join(", ", different.Select(r => r.Service + "." + r.Table))} differ between {directory} and {connection.Database}: " +
                "a server ran on the target since the copy, or the copy was changed; copy again into a new empty database.");
            return 1;
        }
        await output.WriteLineAsync($"migrated {directory} to PostgreSQL database {connection.Database}: {reports.Count} tables, {reports.Sum(r => r.SourceRows)} rows, counts and checksums equal");
        return 0;
    }

    /// <summary>Every entity type of every service's model, in a fixed order (no table has a foreign key, so any order loads).</summary>
    private static List<Table> Tables(IHost sourceHost, IHost targetHost)
    {
        var tables = new List<Table>();
        foreach (var database in sourceHost.Services.GetServices<IServiceDatabase>())
        {
            using var sourceScope = sourceHost.Services.CreateScope();
            using var targetScope = targetHost.Services.CreateScope();
            var source = ((DbContext)sourceScope.ServiceProvider.GetRequiredService(database.ContextType)).Model;
            var target = ((DbContext)targetScope.ServiceProvider.GetRequiredService(database.ContextType)).Model;
            if (target.GetSequences().Any())
                throw new InvalidOperationException($"{database.Service}'s PostgreSQL model has sequences, which easyim migrate --from does not continue yet.");
            foreach (var entity in source.GetEntityTypes().OrderBy(e => e.GetTableName(), StringComparer.Ordinal))
            {
                if (entity.GetForeignKeys().Any() || entity.IsOwned() || entity.GetTableName() is null)
                    throw new InvalidOperationException($"{database.Service}'s {entity.DisplayName()} is mapped in a way easyim migrate --from does not copy yet (foreign key, owned or unmapped).");
                tables.Add(new Table(database.Service, database.ContextType, entity, target.FindEntityType(entity.ClrType)!));
            }
        }
        return tables;
    }

    /// <summary>A target with rows this copy did not write (another server's, or another source's copy) is refused before anything is written.</summary>
    private static async Task RefuseForeignDataAsync(NpgsqlConnection control, List<Table> tables, string directory, CancellationToken cancellationToken)
    {
        foreach (var table in tables)
        {
            var source = await ScalarAsync(control, $"SELECT source FROM {ProgressTable} WHERE service = @s AND table_name = @t", cancellationToken, ("s", table.Service), ("t", table.Name)) as string;
            if (source is not null && source != directory)
                throw new StartupException($"The target database holds a copy of {source}, not of {directory}: give an empty database.");
            if (source is null && (long)(await ScalarAsync(control, $"SELECT count(*) FROM (SELECT 1 FROM {table.TargetName} LIMIT 1) AS any_row", cancellationToken))! > 0)
                throw new StartupException($"The target database already holds data ({table.Service}.{table.Name} has rows easyim migrate did not copy): give an empty database.");
        }
    }

    private async Task CopyAsync(NpgsqlConnection control, IHost sourceHost, IHost targetHost, Table table, string directory, CancellationToken cancellationToken)
    {
        await ExecuteAsync(control, $"INSERT INTO {ProgressTable} (service, table_name, source, last_rowid, rows_copied, done) VALUES (@s, @t, @src, 0, 0, false) ON CONFLICT DO NOTHING",
            cancellationToken, ("s", table.Service), ("t", table.Name), ("src", directory));
        await using (var progress = new NpgsqlCommand($"SELECT last_rowid, rows_copied, done FROM {ProgressTable} WHERE service = @s AND table_name = @t", control))
        {
            progress.Parameters.AddWithValue("s", table.Service);
            progress.Parameters.AddWithValue("t", table.Name);
            await using var reader = await progress.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            if (reader.GetBoolean(2))
                return;
            var last = reader.GetInt64(0);
            var copied = reader.GetInt64(1);
            await reader.DisposeAsync();
            var copy = typeof(DataMigration).GetMethod(nameof(CopyBatchesAsync), BindingFlags.NonPublic | BindingFlags.Instance)!.MakeGenericMethod(table.ClrType);
            await (Task)copy.Invoke(this, [sourceHost, targetHost, table, last, copied, cancellationToken])!;
        }
        await ExecuteAsync(control, $"UPDATE {ProgressTable} SET done = true WHERE service = @s AND table_name = @t", cancellationToken, ("s", table.Service), ("t", table.Name));
    }

    private async Task CopyBatchesAsync<T>(IHost sourceHost, IHost targetHost, Table table, long last, long copied, CancellationToken cancellationToken) where T : class
    {
        var quoted = "\"" + table.Name.Replace("\"", "\"\"") + "\"";
        var reported = DateTime.UtcNow;
        if (copied > 0)
            await output.WriteLineAsync($"{table.Service}.{table.Name}: resuming after {copied} rows");
        while (true)
        {
            List<T> rows;
            long upper;
            await using (var sourceScope = sourceHost.Services.CreateAsyncScope())
            {
                var source = (DbContext)sourceScope.ServiceProvider.GetRequiredService(table.ContextType);
                await source.Database.OpenConnectionAsync(cancellationToken);
                await using var bound = source.Database.GetDbConnection().CreateCommand();
                bound.CommandText = $"SELECT max(rowid) FROM (SELECT rowid FROM {quoted} WHERE rowid > {last} ORDER BY rowid LIMIT {batchSize})";
                if (await bound.ExecuteScalarAsync(cancellationToken) is not long found)
                    break;
                upper = found;
                // The table's name comes from the model, never from input.
#pragma warning disable EF1002
                rows = await source.Set<T>().FromSqlRaw($"SELECT * FROM {quoted} WHERE rowid > {{0}} AND rowid <= {{1}}", last, upper)
#pragma warning restore EF1002
                    .AsNoTracking().ToListAsync(cancellationToken);
            }

            await using (var targetScope = targetHost.Services.CreateAsyncScope())
            {
                var target = (DbContext)targetScope.ServiceProvider.GetRequiredService(table.ContextType);
                await using var transaction = await target.Database.BeginTransactionAsync(cancellationToken);
                target.Set<T>().AddRange(rows);
                await target.SaveChangesAsync(cancellationToken);
                await target.Database.ExecuteSqlRawAsync($"UPDATE {ProgressTable} SET last_rowid = {{0}}, rows_copied = rows_copied + {{1}} WHERE service = {{2}} AND table_name = {{3}}",
                    [upper, (long)rows.Count, table.Service, table.Name], cancellationToken);
                if (interruptAfter is { } stop && stop.Table == $"{table.Service}.{table.Name}" && copied + rows.Count >= stop.Rows)
                {
                    // The test hook for an interruption: the process ends with this batch written and not committed.
                    await output.WriteLineAsync($"interrupted in {stop.Table} after {copied} rows committed (--interrupt-after)");
                    await output.FlushAsync(cancellationToken);
                    Environment.Exit(3);
                }
                await transaction.CommitAsync(cancellationToken);
            }
            last = upper;
            copied += rows.Count;
            if (DateTime.UtcNow - reported > TimeSpan.FromSeconds(2))
            {
                reported = DateTime.UtcNow;
                await output.WriteLineAsync($"{table.Service}.{table.Name}: {copied} rows copied");
            }
        }
        await output.WriteLineAsync($"{table.Service}.{table.Name}: {copied} rows copied");
    }

    /// <summary>PostgreSQL's identity columns go on after the largest copied value (the copy wrote the values, not the sequence).</summary>
    private static async Task ContinueIdentitiesAsync(NpgsqlConnection control, List<Table> tables, CancellationToken cancellationToken)
    {
        foreach (var table in tables)
        {
            var store = StoreObjectIdentifier.Table(table.Target.GetTableName()!, table.Target.GetSchema());
            foreach (var property in table.Target.GetProperties())
            {
                if (NpgsqlPropertyExtensions.GetValueGenerationStrategy(property) is not (NpgsqlValueGenerationStrategy.IdentityByDefaultColumn or NpgsqlValueGenerationStrategy.IdentityAlwaysColumn or NpgsqlValueGenerationStrategy.SerialColumn))
                    continue;
                var column = property.GetColumnName(store)!;
                await ExecuteAsync(control, $"SELECT setval(pg_get_serial_sequence(@table, @column), COALESCE((SELECT max(\"{column}\") FROM {table.TargetName}), 0) + 1, false)",
                    cancellationToken, ("table", table.TargetName), ("column", column));
            }
        }
    }

    private async Task<TableReport> VerifyAsync(IHost sourceHost, IHost targetHost, Table table, CancellationToken cancellationToken)
    {
        var digest = typeof(DataMigration).GetMethod(nameof(DigestAsync), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(table.ClrType);
        var (sourceRows, sourceSum) = await (Task<(long, ulong)>)digest.Invoke(null, [sourceHost, table.ContextType, table.Source, cancellationToken])!;
        var (targetRows, targetSum) = await (Task<(long, ulong)>)digest.Invoke(null, [targetHost, table.ContextType, table.Target, cancellationToken])!;
        return new TableReport(table.Service, table.Name, sourceRows, targetRows, sourceSum, targetSum);
    }

    /// <summary>
    /// A table's rows and an order-independent checksum of them: the sum of a hash of every row's every mapped
    /// value (as .NET reads it from either database), so a missing, doubled or changed row changes it.
    /// </summary>
    internal static async Task<(long Rows, ulong Checksum)> DigestAsync<T>(IHost host, Type contextType, IEntityType entity, CancellationToken cancellationToken) where T : class
    {
        await using var scope = host.Services.CreateAsyncScope();
        var db = (DbContext)scope.ServiceProvider.GetRequiredService(contextType);
        var getters = entity.GetProperties().OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => (p.Name, Get: p.GetGetter())).ToList();
        long rows = 0;
        ulong sum = 0;
        var text = new StringBuilder();
        await foreach (var row in db.Set<T>().AsNoTracking().AsAsyncEnumerable().WithCancellation(cancellationToken))
        {
            text.Clear();
            foreach (var (name, get) in getters)
                text.Append(name).Append('=').Append(Canonical(get.GetClrValue(row))).Append('\u001f');
            sum = unchecked(sum + BitConverter.ToUInt64(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())), 0));
            rows++;
        }
        return (rows, sum);
    }

    private static string Canonical(object? value) => value switch
    {
        null => "\u0000null",
        byte[] bytes => Convert.ToBase64String(bytes),
        string s => s.Length + ":" + s,
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
            command.Parameters.AddWithValue(name, value);
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
            command.Parameters.AddWithValue(name, value);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
