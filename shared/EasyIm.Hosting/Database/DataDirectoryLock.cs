using Microsoft.Extensions.Hosting;

namespace EasyIm.Hosting.Database;

/// <summary>
/// Who uses a data directory's SQLite files: every server process on it holds a shared lock on
/// <c>easyim.lock</c> there for as long as it runs (several may: split targets on one directory), and
/// <c>easyim restore</c> and <c>easyim migrate --from</c> take it exclusively, so that neither overwrites nor
/// copies files a server is writing, and no server starts on files being restored. An OS file lock (flock on
/// Unix), not a file's presence: a process that dies, even by SIGKILL, lets go of it, so nothing stale remains.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    public const string FileName = "easyim.lock";

    private readonly FileStream _file;

    private DataDirectoryLock(FileStream file) => _file = file;

    /// <summary>A server's lock: shared with other servers, refused while a restore or a migration holds the directory.</summary>
    public static DataDirectoryLock Shared(string directory) =>
        Take(directory, exclusive: false) ?? throw new StartupException(
            $"The data directory {directory} is being restored or migrated (easyim restore / easyim migrate --from holds {FileName}): start the server when that has finished.");

    /// <summary>The lock of a restore or a migration; null when a server (or another restore) holds the directory.</summary>
    public static DataDirectoryLock? TryExclusive(string directory) => Take(directory, exclusive: true);

    private static DataDirectoryLock? Take(string directory, bool exclusive)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        try
        {
            // .NET locks the whole file with flock on Unix (LockFileEx on Windows): FileShare.None is an exclusive
            // lock, a read-only open sharing reads and writes a shared one; both fail at once rather than wait.
            if (!File.Exists(path))
                File.WriteAllBytes(path, []);
            return new DataDirectoryLock(exclusive
                ? new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None)
                : new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        }
        catch (IOException) when (File.Exists(path))
        {
            return null;
        }
    }

    public void Dispose() => _file.Dispose();
}

/// <summary>Holds a server's <see cref="DataDirectoryLock"/> from before its migrations until it has stopped.</summary>
internal sealed class DataDirectoryLockHolder(string directory) : IHostedService, IDisposable
{
    private DataDirectoryLock? _lock;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _lock ??= DataDirectoryLock.Shared(directory);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // Released when the host is disposed, after every hosted service (the checkpointer's last TRUNCATE included) has stopped.
    public void Dispose() => _lock?.Dispose();
}
