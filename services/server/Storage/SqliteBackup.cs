using System.IO.Compression;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using EasyIm.Hosting;
using EasyIm.Hosting.Database;
using Microsoft.Data.Sqlite;

namespace EasyIm.Server.Storage;

/// <summary>
/// <c>easyim backup FILE</c> and <c>easyim restore FILE</c>: a standalone server's SQLite files as one zip with a
/// <see cref="BackupManifest"/>. Backup is online: SQLite's backup API copies each database as of one read
/// transaction, which in WAL mode holds no writer back (a restart of the log waits for it at most its short
/// bound, then leaves it for later, so the log may grow past its bound while a large copy runs). Each file is
/// consistent on its own; the three are copied one after the other, so a message sent meanwhile may be in
/// messaging's copy and its sender's new friend not in friends' (the same as a crash between them would leave).
/// </summary>
public static class SqliteBackup
{
    public static async Task BackupAsync(string dataDirectory, string file, TextWriter output, CancellationToken cancellationToken)
    {
        var directory = Path.GetFullPath(dataDirectory);
        var target = Path.GetFullPath(file);
        if (!Directory.Exists(directory))
            throw new StartupException($"There is no data directory {directory}: give the server's --data.");
        var stores = ServiceStores.All.Where(s => File.Exists(Path.Combine(directory, s.FileName))).ToList();
        if (stores.Count == 0)
            throw new StartupException($"{directory} holds no easyim database ({string.Join(", ", ServiceStores.All.Select(s => s.FileName))}): give the server's --data.");
        if (File.Exists(target) || Directory.Exists(target))
            throw new StartupException($"{target} already exists: give a new file name (a backup never overwrites one).");
        if (Path.GetDirectoryName(target) is { } parent && !Directory.Exists(parent))
            throw new StartupException($"There is no directory {parent} to write {Path.GetFileName(target)} in.");

        var work = Directory.CreateTempSubdirectory("easyim-backup-");
        var partial = target + ".partial";
        try
        {
            var databases = new List<BackedUpDatabase>();
            foreach (var store in stores)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var copy = Path.Combine(work.FullName, store.FileName);
                Copy(Path.Combine(directory, store.FileName), copy);
                databases.Add(Describe(store, copy));
            }
            var manifest = new BackupManifest(BackupManifest.FormatName, BackupManifest.CurrentVersion, DateTimeOffset.UtcNow, Version, databases);

            // Written beside the target and renamed when complete: an interrupted backup leaves no file that looks whole.
            await using (var stream = new FileStream(partial, FileMode.CreateNew, FileAccess.Write))
            await using (var zip = new ZipArchive(stream, ZipArchiveMode.Create))
            {
                foreach (var database in databases)
                    await zip.CreateEntryFromFileAsync(Path.Combine(work.FullName, database.File), database.File, CompressionLevel.Fastest, cancellationToken);
                var entry = zip.CreateEntry(BackupManifest.EntryName);
                await using var manifestStream = await entry.OpenAsync(cancellationToken);
                await JsonSerializer.SerializeAsync(manifestStream, manifest, BackupManifest.Json, cancellationToken);
            }
            File.Move(partial, target);
            foreach (var database in databases)
                await output.WriteLineAsync($"{database.Service}: {database.Rows.Values.Sum()} rows in {database.Rows.Count} tables, {database.Bytes} bytes");
            await output.WriteLineAsync($"backed up {directory} to {target}");
        }
        finally
        {
            File.Delete(partial);
            work.Delete(recursive: true);
        }
    }

    /// <summary>One database through SQLite's online backup API, made a single self-contained file (no WAL).</summary>
    private static void Copy(string source, string copy)
    {
        // ReadWrite, not ReadOnly: a WAL reader may need to recover the shared-memory index; Mode never creates a file.
        using var from = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = source, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 30 }.ToString());
        using var to = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = copy, Pooling = false }.ToString());
        from.Open();
        to.Open();
        from.BackupDatabase(to);
        Execute(to, "PRAGMA journal_mode=DELETE;");
    }

    private static BackedUpDatabase Describe(ServiceStores.Store store, string copy)
    {
        using (var connection = Open(copy))
        {
            var rows = CountRows(connection);
            var migration = rows.ContainsKey(DatabaseSetup.HistoryTable)
                ? Scalar(connection, $"SELECT max(\"MigrationId\") FROM \"{DatabaseSetup.HistoryTable}\"") as string
                : null;
            return new BackedUpDatabase(store.Service, store.FileName, new FileInfo(copy).Length, Sha256(copy), migration, rows);
        }
    }

    public static async Task RestoreAsync(string file, string dataDirectory, bool force, TextWriter output, CancellationToken cancellationToken)
    {
        var source = Path.GetFullPath(file);
        var directory = Path.GetFullPath(dataDirectory);
        if (!File.Exists(source))
            throw new StartupException($"There is no backup file {source}.");

        ZipArchive zip;
        try
        {
            zip = new ZipArchive(File.OpenRead(source), ZipArchiveMode.Read);
        }
        catch (InvalidDataException)
        {
            throw new StartupException($"{source} is not an easyim backup (not a zip archive).");
        }
        using var _ = zip;
        var manifest = ReadManifest(zip, source);

        using var held = DataDirectoryLock.TryExclusive(directory) ?? throw new StartupException(
            $"A server is using {directory}: stop it first (easyim --stop), then restore.");
        var present = Directory.EnumerateFileSystemEntries(directory)
            .Select(Path.GetFileName)
            .Where(name => name is not DataDirectoryLock.FileName && !name!.EndsWith(".sock", StringComparison.Ordinal))
            .ToList();
        if (present.Count > 0 && !force)
            throw new StartupException($"{directory} is not empty ({string.Join(", ", present.Take(5))}): restore into an empty directory, or add --force to replace its databases.");

        // Every file is extracted and checked before any database in the directory is touched.
        var staged = new List<(string Staged, string Final)>();
        try
        {
            foreach (var database in manifest.Databases)
            {
                var entry = zip.GetEntry(database.File)!;
                var path = Path.Combine(directory, $".restore-{database.File}");
                staged.Add((path, Path.Combine(directory, database.File)));
                await entry.ExtractToFileAsync(path, overwrite: true, cancellationToken);
                Verify(source, database, path);
            }
            foreach (var store in ServiceStores.All)
            {
                foreach (var suffix in new[] { "", "-wal", "-shm", "-journal" })
                    File.Delete(Path.Combine(directory, store.FileName + suffix));
            }
            foreach (var (path, final) in staged)
                File.Move(path, final);
        }
        finally
        {
            foreach (var (path, _) in staged)
                File.Delete(path);
        }
        foreach (var database in manifest.Databases)
            await output.WriteLineAsync($"{database.Service}: {database.Rows.Values.Sum()} rows in {database.Rows.Count} tables");
        await output.WriteLineAsync($"restored {source} (made {manifest.CreatedAt:u} by easyim {manifest.EasyImVersion}) into {directory}");
    }

    private static BackupManifest ReadManifest(ZipArchive zip, string source)
    {
        var entry = zip.GetEntry(BackupManifest.EntryName);
        if (entry is null || entry.Length > BackupManifest.MaxBytes)
            throw new StartupException($"{source} is not an easyim backup (no {BackupManifest.EntryName}).");
        BackupManifest? manifest;
        try
        {
            using var stream = entry.Open();
            manifest = JsonSerializer.Deserialize<BackupManifest>(stream, BackupManifest.Json);
        }
        catch (Exception ex) when (ex is JsonException or InvalidDataException)
        {
            throw new StartupException($"{source} is not an easyim backup: its {BackupManifest.EntryName} does not read ({ex.Message}).");
        }
        if (manifest is null || manifest.Format != BackupManifest.FormatName || manifest.Databases is null)
            throw new StartupException($"{source} is not an easyim backup: its {BackupManifest.EntryName} is not {BackupManifest.FormatName}'s.");
        if (manifest.FormatVersion != BackupManifest.CurrentVersion)
            throw new StartupException($"{source} is an easyim backup of format {manifest.FormatVersion}; this easyim reads format {BackupManifest.CurrentVersion}.");
        if (manifest.Databases.Count == 0)
            throw new StartupException($"{source} is damaged: its manifest lists no database.");
        foreach (var database in manifest.Databases)
        {
            // Only the known names, so an entry's name never becomes a path of its own choosing.
            if (ServiceStores.Find(database.Service) is not { } store || database.File != store.FileName || database.Rows is null || database.Sha256 is null)
                throw new StartupException($"{source} is damaged: its manifest lists '{database.Service}' ({database.File}), not a database of this easyim.");
            if (zip.GetEntry(database.File) is not { } entry2 || entry2.Length != database.Bytes)
                throw new StartupException($"{source} is damaged: {database.File} is missing or not {database.Bytes} bytes.");
        }
        if (manifest.Databases.Select(d => d.Service).Distinct().Count() != manifest.Databases.Count)
            throw new StartupException($"{source} is damaged: its manifest lists a database twice.");
        return manifest;
    }

    /// <summary>The extracted file is the one backed up: same hash, a sound SQLite database, the same rows.</summary>
    private static void Verify(string source, BackedUpDatabase database, string path)
    {
        if (Sha256(path) != database.Sha256)
            throw new StartupException($"{source} is damaged: {database.File} does not have the checksum its manifest gives.");
        try
        {
            using var connection = Open(path);
            if (Scalar(connection, "PRAGMA integrity_check") as string != "ok")
                throw new StartupException($"{source} is damaged: {database.File} fails SQLite's integrity check.");
            var rows = CountRows(connection);
            var differing = database.Rows.Where(r => !rows.TryGetValue(r.Key, out var n) || n != r.Value).Select(r => r.Key).ToList();
            if (differing.Count > 0 || rows.Count != database.Rows.Count)
                throw new StartupException($"{source} is damaged: {database.File} does not hold the rows its manifest counts ({string.Join(", ", differing)}).");
        }
        catch (SqliteException ex)
        {
            throw new StartupException($"{source} is damaged: {database.File} is not a readable SQLite database ({ex.Message}).");
        }
    }

    private static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    private static Dictionary<string, long> CountRows(SqliteConnection connection)
    {
        var tables = new List<string>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name";
            using var reader = command.ExecuteReader();
            while (reader.Read())
                tables.Add(reader.GetString(0));
        }
        return tables.ToDictionary(t => t, t => (long)Scalar(connection, $"SELECT count(*) FROM \"{t.Replace("\"", "\"\"")}\"")!);
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static string Version =>
        typeof(SqliteBackup).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "";
}
