using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.Hosting.Database;
using EasyIm.IntegrationTests.Shapes;
using EasyIm.Server.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EasyIm.IntegrationTests.Storage;

/// <summary>
/// <c>easyim migrate --from DIR --to CONNECTION</c> on a standalone server's real SQLite files into a real, new
/// PostgreSQL database: the same logins, tokens and history served after, every table of every model copied,
/// and an interrupted copy resumed without duplicates.
/// </summary>
public sealed class MigrateToPostgresTests : IAsyncLifetime
{
    private readonly DirectoryInfo _workDir = Directory.CreateTempSubdirectory("easyim-migrate-");
    private readonly string _database = "easyim_moved_" + Guid.NewGuid().ToString("N")[..12];
    private Infrastructure? _infrastructure;

    public async Task InitializeAsync()
    {
        var (found, missing) = await TestInfrastructure.GetAsync();
        if (found is null && TestInfrastructure.Required)
            throw new InvalidOperationException(missing);
        _infrastructure = found;
    }

    public async Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        NpgsqlConnection.ClearAllPools();
        if (_infrastructure is not null)
            await TestInfrastructure.DropDatabaseAsync(_infrastructure.PostgresAdmin, _database);
        _workDir.Delete(recursive: true);
    }

    private string Source => Path.Combine(_workDir.FullName, "standalone");
    private string Target => new NpgsqlConnectionStringBuilder(_infrastructure!.PostgresAdmin) { Database = _database }.ConnectionString;

    [SkippableFact]
    public async Task A_migrated_standalone_server_serves_the_same_logins_tokens_and_history_from_postgres()
    {
        Skip.If(_infrastructure is null, "needs PostgreSQL");
        await using var standalone = await StoreServer.StartAsync(_workDir.FullName, Source);
        var (a, aAccount, aPassword) = await standalone.RegisterAsync();
        var (b, bAccount, bPassword) = await standalone.RegisterAsync();
        var (c, _, _) = await standalone.RegisterAsync();
        await standalone.BefriendAsync(a, b);
        await standalone.BefriendAsync(a, c);
        long group;
        using (var api = standalone.Api(a.AccessToken))
            group = await api.CreateGroupAsync("movers", [b.UserId, c.UserId]);
        await using (var client = await standalone.ConnectAsync(a))
        {
            for (var i = 0; i < 12; i++)
                await StoreServer.SendAsync(client, b.UserId, $"one to one {i}");
            for (var i = 0; i < 5; i++)
                await StoreServer.SendAsync(client, group, $"to the group {i}", Msg.Types.ChatType.Group);
        }
        var before = await SnapshotAsync(standalone, a, b.UserId, group);
        await standalone.StopAsync();

        var (code, stdout, stderr) = await StoreServer.RunAsync(_workDir.FullName, "migrate", "--from", Source, "--to", Target);

        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("counts and checksums equal", stdout);
        await AssertEveryTableCopiedAsync(stdout);

        await using var cluster = await StoreServer.StartAsync(_workDir.FullName, Path.Combine(_workDir.FullName, "unused"), new Dictionary<string, string>
        {
            ["Database__Provider"] = "Postgres",
            ["ConnectionStrings__postgres"] = Target,
        });
        // The token the standalone server issued is good here (the signing keys moved), and serves the same.
        Assert.Equal(before, await SnapshotAsync(cluster, a, b.UserId, group));
        using var anonymous = cluster.Api();
        Assert.Equal(a.UserId, (await anonymous.LoginAsync(aAccount, aPassword)).UserId);
        var bLogin = await anonymous.LoginAsync(bAccount, bPassword);
        Assert.Equal(b.UserId, bLogin.UserId);
        // Numbering goes on after the copied messages: the next one is the 13th of the pair.
        await using (var client = await cluster.ConnectAsync(bLogin))
            await StoreServer.SendAsync(client, a.UserId, "from postgres");
        var history = await cluster.HistoryAsync(a.AccessToken, StoreServer.Pair(a.UserId, b.UserId));
        Assert.Equal(13, history.Count);
        Assert.Contains("from postgres", history[^1].GetRawText());
    }

    [SkippableFact]
    public async Task A_copy_interrupted_in_the_middle_of_the_messages_resumes_without_duplicates()
    {
        Skip.If(_infrastructure is null, "needs PostgreSQL");
        await using (var standalone = await StoreServer.StartAsync(_workDir.FullName, Source))
        {
            var (a, _, _) = await standalone.RegisterAsync();
            var (b, _, _) = await standalone.RegisterAsync();
            await standalone.BefriendAsync(a, b);
            await using (var client = await standalone.ConnectAsync(a))
            {
                for (var i = 0; i < 60; i++)
                    await StoreServer.SendAsync(client, b.UserId, $"message {i}");
            }
            await standalone.StopAsync();
        }

        var interrupted = await StoreServer.RunAsync(_workDir.FullName, "migrate", "--from", Source, "--to", Target, "--batch", "10", "--interrupt-after", "messaging.messages:25");

        Assert.True(interrupted.Code == 3, interrupted.Stderr + interrupted.Stdout);
        // Batches of ten: two committed, the third written and never committed.
        Assert.Equal(20L, await PostgresScalarAsync("SELECT count(*) FROM messaging.messages"));
        Assert.Equal(20L, await PostgresScalarAsync("SELECT rows_copied FROM easyim_migrate.progress WHERE service = 'messaging' AND table_name = 'messages'"));

        var resumed = await StoreServer.RunAsync(_workDir.FullName, "migrate", "--from", Source, "--to", Target, "--batch", "10");

        Assert.True(resumed.Code == 0, resumed.Stderr + resumed.Stdout);
        Assert.Contains("messaging.messages: resuming after 20 rows", resumed.Stdout);
        Assert.Contains("counts and checksums equal", resumed.Stdout);
        var sourceIds = await SqliteIdsAsync();
        Assert.Equal(60, sourceIds.Count);
        Assert.Equal(sourceIds, await PostgresIdsAsync());
        await AssertEveryTableCopiedAsync(resumed.Stdout);

        // Run again on the finished copy: nothing is copied twice, and it still verifies.
        var again = await StoreServer.RunAsync(_workDir.FullName, "migrate", "--from", Source, "--to", Target);
        Assert.True(again.Code == 0, again.Stderr + again.Stdout);
        Assert.Equal(60L, await PostgresScalarAsync("SELECT count(*) FROM messaging.messages"));
    }

    [SkippableFact]
    public async Task A_target_holding_another_servers_data_or_a_source_in_use_is_refused()
    {
        Skip.If(_infrastructure is null, "needs PostgreSQL");
        var first = await StoreServer.RunAsync(_workDir.FullName, "migrate", "--data", Source);
        Assert.True(first.Code == 0, first.Stderr);
        // A cluster that has served: its data is not a copy of this directory.
        var cluster = await StoreServer.RunAsync(_workDir.FullName, "migrate", "--Database:Provider=Postgres", $"--ConnectionStrings:postgres={Target}");
        Assert.True(cluster.Code == 0, cluster.Stderr);
        await PostgresScalarAsync("INSERT INTO auth.signing_keys (\"Id\", \"Key\") VALUES (7, '\\x00') RETURNING 1");

        var foreign = await StoreServer.RunAsync(_workDir.FullName, "migrate", "--from", Source, "--to", Target);

        Assert.Equal(2, foreign.Code);
        Assert.Contains("already holds data (auth.signing_keys", foreign.Stderr);

        await using var server = await StoreServer.StartAsync(_workDir.FullName, Source);
        var inUse = await StoreServer.RunAsync(_workDir.FullName, "migrate", "--from", Source, "--to", Target);
        Assert.Equal(2, inUse.Code);
        Assert.Contains("A server is using", inUse.Stderr);
    }

    /// <summary>
    /// Every entity type of every service's model (so a table added later too) is in the summary as equal, and
    /// holds as many rows in PostgreSQL as in its SQLite file, counted here independently of the tool.
    /// </summary>
    private async Task AssertEveryTableCopiedAsync(string summary)
    {
        var tables = 0;
        using var host = ServiceStores.BuildHost(ServiceStores.All, new Dictionary<string, string?>
        {
            [DatabaseSetup.ProviderKey] = "Postgres",
            ["ConnectionStrings:postgres"] = Target,
        });
        foreach (var database in host.Services.GetServices<IServiceDatabase>())
        {
            using var scope = host.Services.CreateScope();
            var model = ((DbContext)scope.ServiceProvider.GetRequiredService(database.ContextType)).Model;
            foreach (var entity in model.GetEntityTypes())
            {
                var table = entity.GetTableName()!;
                Assert.Matches($@"(?m)^{database.Service}\.{table}\s+(\d+)\s+\1\s+equal", summary);
                var sqlite = await SqliteScalarAsync(database.Service, $"SELECT count(*) FROM \"{table}\"");
                Assert.Equal(sqlite, await PostgresScalarAsync($"SELECT count(*) FROM \"{entity.GetSchema()}\".\"{table}\""));
                tables++;
            }
        }
        Assert.Equal(ServiceStores.All.Count, host.Services.GetServices<IServiceDatabase>().Count());
        Assert.True(tables >= 19, $"{tables} tables");
    }

    /// <summary>What <paramref name="me"/> is served: friends, groups, conversations and both histories, as the API returns them.</summary>
    private static async Task<string> SnapshotAsync(StoreServer server, ApiSession me, long peer, long group)
    {
        var pair = await server.HistoryAsync(me.AccessToken, StoreServer.Pair(me.UserId, peer));
        var groupHistory = await server.HistoryAsync(me.AccessToken, $"g_{group}");
        Assert.Equal(12, pair.Count);
        Assert.Equal(5, groupHistory.Count);
        return string.Join("\n", await server.GetTextAsync("/api/user/friends", me.AccessToken), await server.GetTextAsync("/api/group/list", me.AccessToken),
            await server.GetTextAsync("/api/chat/conversations", me.AccessToken),
            string.Join(",", pair.Select(m => m.GetRawText())), string.Join(",", groupHistory.Select(m => m.GetRawText())));
    }

    private async Task<long> SqliteScalarAsync(string service, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(Source, service + ".db")};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<long> PostgresScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Target);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<List<long>> SqliteIdsAsync()
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(Source, "messaging.db")};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id FROM messages ORDER BY id";
        var ids = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            ids.Add(reader.GetInt64(0));
        return ids;
    }

    private async Task<List<long>> PostgresIdsAsync()
    {
        await using var connection = new NpgsqlConnection(Target);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id FROM messaging.messages ORDER BY id", connection);
        var ids = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            ids.Add(reader.GetInt64(0));
        return ids;
    }
}
