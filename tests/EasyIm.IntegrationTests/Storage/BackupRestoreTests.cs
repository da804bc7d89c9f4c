using System.IO.Compression;
using EasyIm.Hosting.Database;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.IntegrationTests.Storage;

/// <summary>
/// <c>easyim backup</c> and <c>easyim restore</c> as a user runs them, on real SQLite files: online while a pair
/// chats, restored into a server that serves the same logins and history, and every refusal.
/// </summary>
public sealed class BackupRestoreTests : IDisposable
{
    private readonly DirectoryInfo _workDir = Directory.CreateTempSubdirectory("easyim-backup-");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _workDir.Delete(recursive: true);
    }

    private string At(string name) => Path.Combine(_workDir.FullName, name);

    [Fact]
    public async Task A_backup_taken_while_a_pair_chats_restores_into_a_server_with_the_same_logins_and_history()
    {
        await using var live = await StoreServer.StartAsync(_workDir.FullName, At("live"));
        var (a, aAccount, aPassword) = await live.RegisterAsync();
        var (b, _, _) = await live.RegisterAsync();
        await live.BefriendAsync(a, b);
        await using var client = await live.ConnectAsync(a);
        for (var i = 0; i < 20; i++)
            await StoreServer.SendAsync(client, b.UserId, $"before {i}");

        // The pair keeps chatting while the backup runs: each message acked before the next.
        using var stopChat = new CancellationTokenSource();
        var sentDuring = 0;
        var chat = Task.Run(async () =>
        {
            while (!stopChat.IsCancellationRequested && sentDuring < 150)
            {
                await StoreServer.SendAsync(client, b.UserId, $"during {sentDuring}");
                sentDuring++;
            }
        });
        var (code, stdout, stderr) = await StoreServer.RunAsync(_workDir.FullName, "backup", "--data", At("live"), At("live.easyim-backup"));
        await stopChat.CancelAsync();
        await chat.WaitAsync(StoreServer.ExitTimeout);

        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("backed up", stdout);
        var conversation = StoreServer.Pair(a.UserId, b.UserId);
        var liveHistory = await live.HistoryAsync(a.AccessToken, conversation);
        Assert.Equal(20 + sentDuring, liveHistory.Count);

        var restore = await StoreServer.RunAsync(_workDir.FullName, "restore", At("live.easyim-backup"), "--data", At("restored"));
        Assert.True(restore.Code == 0, restore.Stderr + restore.Stdout);
        await using var restored = await StoreServer.StartAsync(_workDir.FullName, At("restored"));
        using var api = restored.Api();
        var login = await api.LoginAsync(aAccount, aPassword);
        var restoredHistory = await restored.HistoryAsync(login.AccessToken, conversation);

        // The copy is the conversation as it was at one moment of the backup: everything acked before it
        // started, and exactly the first messages of the live history (the same ids, seqs and contents).
        Assert.Equal(a.UserId, login.UserId);
        Assert.InRange(restoredHistory.Count, 20, liveHistory.Count);
        Assert.Equal(liveHistory.Take(restoredHistory.Count).Select(m => m.GetRawText()), restoredHistory.Select(m => m.GetRawText()));
        Assert.Equal(liveHistory[restoredHistory.Count - 1].GetRawText(), restoredHistory[^1].GetRawText());
        // The signing keys came along: a token the live server issued is good on the restored one.
        Assert.Equal(restoredHistory.Count, (await restored.HistoryAsync(a.AccessToken, conversation)).Count);
    }

    [Fact]
    public async Task Restore_refuses_a_directory_a_server_uses_and_a_non_empty_one_without_force()
    {
        var backup = await BackupOfAFreshStoreAsync();
        await using var server = await StoreServer.StartAsync(_workDir.FullName, At("busy"));
        var (user, _, _) = await server.RegisterAsync();

        var inUse = await StoreServer.RunAsync(_workDir.FullName, "restore", backup, "--data", At("busy"), "--force");

        Assert.Equal(2, inUse.Code);
        Assert.Contains("A server is using", inUse.Stderr);
        Assert.DoesNotContain("   at ", inUse.Stderr);
        // The server still serves its own data, untouched.
        using (var api = server.Api(user.AccessToken))
            Assert.Empty(await api.FriendsAsync());
        Assert.False(server.HasExited);

        Directory.CreateDirectory(At("other"));
        await File.WriteAllTextAsync(Path.Combine(At("other"), "notes.txt"), "mine");
        var notEmpty = await StoreServer.RunAsync(_workDir.FullName, "restore", backup, "--data", At("other"));
        Assert.Equal(2, notEmpty.Code);
        Assert.Contains("is not empty (notes.txt)", notEmpty.Stderr);
        Assert.False(File.Exists(Path.Combine(At("other"), "auth.db")));

        var forced = await StoreServer.RunAsync(_workDir.FullName, "restore", backup, "--data", At("other"), "--force");
        Assert.True(forced.Code == 0, forced.Stderr);
        Assert.All(new[] { "auth.db", "friends.db", "messaging.db" }, f => Assert.True(File.Exists(Path.Combine(At("other"), f)), f));
    }

    [Fact]
    public async Task A_server_does_not_start_on_a_directory_being_restored()
    {
        Directory.CreateDirectory(At("locked"));
        using var restoring = DataDirectoryLock.TryExclusive(At("locked"));
        Assert.NotNull(restoring);

        var (code, _, stderr) = await StoreServer.RunAsync(_workDir.FullName, "--data", At("locked"), "--port", "0", "--apiport", "0");

        Assert.Equal(2, code);
        Assert.Contains("is being restored or migrated", stderr);
    }

    [Fact]
    public void Backup_restore_and_migrate_know_every_service_database_the_server_registers()
    {
        using var app = EasyIm.Server.EasyImHost.Build([], new Dictionary<string, string?> { [EasyIm.Hosting.EasyImConfiguration.DataDirectoryKey] = At("modules") }, migrateOnly: true);

        var registered = app.Services.GetServices<IServiceDatabase>().Select(d => d.Service).Order();

        Assert.Equal(EasyIm.Server.Storage.ServiceStores.All.Select(s => s.Service).Order(), registered);
    }

    public static TheoryData<string> DamagedBackups => ["not a zip", "a zip of something else", "a manifest of another format", "a changed database", "a database missing", "a path outside"];

    [Theory]
    [MemberData(nameof(DamagedBackups))]
    public async Task A_corrupt_or_foreign_backup_file_gets_a_clear_error_and_writes_nothing(string damage)
    {
        var good = await BackupOfAFreshStoreAsync();
        var bad = At("bad.zip");
        switch (damage)
        {
            case "not a zip":
                await File.WriteAllBytesAsync(bad, [1, 2, 3, 4, 5, 6, 7, 8]);
                break;
            case "a zip of something else":
                using (var zip = ZipFile.Open(bad, ZipArchiveMode.Create))
                    zip.CreateEntry("readme.txt");
                break;
            default:
                File.Copy(good, bad);
                using (var zip = ZipFile.Open(bad, ZipArchiveMode.Update))
                    Damage(zip, damage);
                break;
        }

        var (code, stdout, stderr) = await StoreServer.RunAsync(_workDir.FullName, "restore", bad, "--data", At("target"));

        Assert.True(code == 2, $"{code}: {stderr}{stdout}");
        Assert.Matches("is not an easyim backup|is damaged", stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.False(Directory.Exists(At("target")) && Directory.EnumerateFiles(At("target"), "*.db*").Any());
        Assert.False(File.Exists(Path.Combine(_workDir.FullName, "..", "escaped.db")));
    }

    private static void Damage(ZipArchive zip, string damage)
    {
        switch (damage)
        {
            case "a manifest of another format":
                Replace(zip, "manifest.json", """{"format":"other","formatVersion":1,"databases":[]}"""u8.ToArray());
                break;
            case "a changed database":
                // Same length, one byte different deep in the file: only the checksum can tell.
                var entry = zip.GetEntry("messaging.db")!;
                byte[] bytes;
                using (var stream = entry.Open())
                using (var copy = new MemoryStream())
                {
                    stream.CopyTo(copy);
                    bytes = copy.ToArray();
                }
                bytes[bytes.Length / 2] ^= 0xFF;
                Replace(zip, "messaging.db", bytes);
                break;
            case "a database missing":
                zip.GetEntry("friends.db")!.Delete();
                break;
            case "a path outside":
                var manifest = ReadText(zip, "manifest.json").Replace("\"file\": \"auth.db\"", "\"file\": \"../escaped.db\"");
                Replace(zip, "manifest.json", System.Text.Encoding.UTF8.GetBytes(manifest));
                break;
        }
    }

    private static string ReadText(ZipArchive zip, string name)
    {
        using var reader = new StreamReader(zip.GetEntry(name)!.Open());
        return reader.ReadToEnd();
    }

    private static void Replace(ZipArchive zip, string name, byte[] content)
    {
        zip.GetEntry(name)?.Delete();
        using var stream = zip.CreateEntry(name).Open();
        stream.Write(content);
    }

    /// <summary>A backup of a data directory with every database made and one user.</summary>
    private async Task<string> BackupOfAFreshStoreAsync()
    {
        var source = At("fresh-" + Guid.NewGuid().ToString("N")[..6]);
        var migrated = await StoreServer.RunAsync(_workDir.FullName, "migrate", "--data", source);
        Assert.True(migrated.Code == 0, migrated.Stderr);
        var file = source + ".zip";
        var backup = await StoreServer.RunAsync(_workDir.FullName, "backup", "--data", source, file);
        Assert.True(backup.Code == 0, backup.Stderr);
        return file;
    }
}
