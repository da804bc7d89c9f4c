using System.Text.Json;
using EasyIm.Contracts.Messaging;
using EasyIm.IntegrationTests.Shapes;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Retention;
using EasyIm.UnitTests.Messaging;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EasyIm.IntegrationTests.Messaging;

/// <summary>
/// Retention and the hot queries' plans on a real PostgreSQL: messaging in process (the unit tests' host,
/// its in-memory bus) on a database of the test's own.
/// </summary>
public sealed class PostgresRetentionTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _database = "easyim_ret_" + Guid.NewGuid().ToString("N")[..12];
    private string? _admin;
    private string? _connectionString;
    private string? _unavailable;

    public async Task InitializeAsync()
    {
        var (found, missing) = await TestInfrastructure.GetAsync();
        if (found is null)
        {
            _unavailable = missing;
            if (TestInfrastructure.Required)
                throw new InvalidOperationException(missing);
            return;
        }
        _admin = found.PostgresAdmin;
        _connectionString = await TestInfrastructure.CreateDatabaseAsync(_admin, _database);
    }

    public async Task DisposeAsync()
    {
        if (_admin is not null)
            await TestInfrastructure.DropDatabaseAsync(_admin, _database);
    }

    private Task<MessagingHost> StartAsync(Dictionary<string, string?> settings) =>
        MessagingHost.StartAsync(new Dictionary<string, string?>(settings)
        {
            ["Database:Provider"] = "Postgres",
            ["ConnectionStrings:messaging"] = _connectionString,
        });

    [SkippableFact]
    public async Task No_hot_query_scans_all_of_messages_on_PostgreSQL()
    {
        Skip.If(_unavailable is not null, _unavailable);
        await using var host = await StartAsync(HotQueryPlans.HostSettings);

        var plans = await HotQueryPlans.RunAsync(host, _database);

        foreach (var plan in plans)
            output.WriteLine($"{plan.Path}:\n{plan.Sql}\n-- plan:\n{plan.Text}");
        var scans = plans.Where(HotQueryPlans.ScansMessages).ToList();
        Assert.True(scans.Count == 0, string.Join("\n\n", scans.Select(p => $"{p.Path}:\n{p.Sql}\n-- plan:\n{p.Text}")));
        Assert.Contains(plans, p => p.Text.Contains("IX_messages_chat_type_sent_at", StringComparison.Ordinal));
        host.AssertNoFaults();
    }

    [SkippableFact]
    public async Task Retention_on_PostgreSQL_deletes_old_messages_per_kind_and_history_and_sync_say_where_history_starts()
    {
        Skip.If(_unavailable is not null, _unavailable);
        await using var host = await StartAsync(new()
        {
            ["Messaging:Retention:DirectDays"] = "30",
            ["Messaging:Retention:GroupDays"] = "7",
            ["Messaging:Retention:BatchSize"] = "2",
        });
        var (a, b, group) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.JoinGroupAsync(group, a, "owner");
        await host.JoinGroupAsync(group, b);
        var ids = Enumerable.Range(1, 5).Select(i => $"d-{i}").ToArray();
        await host.SubmitAsync([.. ids.Select(id => MessagingHost.Chat(a, b, id, id)), .. ids.Select(id => MessagingHost.Chat(a, group, "g" + id, id, chatType: 1))]);
        var direct = (await host.AnswersAsync(a, ids))[0].ConversationId!;
        var groupConversation = (await host.AnswersAsync(a, "gd-1"))[0].ConversationId!;
        // Direct 1-3 at 40 days (past 30), 4 at 20 (kept); group 1-2 at 10 days (past 7).
        await AgeAsync(host, direct, 1, 3, 40);
        await AgeAsync(host, direct, 4, 4, 20);
        await AgeAsync(host, groupConversation, 1, 2, 10);

        await host.Services.GetRequiredService<MessageRetention>().SweepAsync(CancellationToken.None);

        var left = await host.DbAsync(db => db.Messages.AsNoTracking().Where(m => m.ConversationId == direct || m.ConversationId == groupConversation)
            .Select(m => new { m.ConversationId, m.ConversationSeq }).ToListAsync());
        Assert.Equal([4L, 5L], left.Where(m => m.ConversationId == direct).Select(m => m.ConversationSeq).Order());
        Assert.Equal([3L, 4L, 5L], left.Where(m => m.ConversationId == groupConversation).Select(m => m.ConversationSeq).Order());
        var history = (await host.Harness.GetRequestClient<GetHistory>().GetResponse<HistoryPage>(new GetHistory(a, direct, null, 50))).Message;
        Assert.Equal((5UL, 4UL), (history.Total, history.RetainedFromSeq));
        var page = (await host.Harness.Bus.CreateRequestClient<SyncConversations>()
            .GetResponse<SyncPage>(new SyncConversations(b, "b-new", new Dictionary<string, ulong> { [direct] = 0, [groupConversation] = 0 }))).Message;
        Assert.Null(page.Resume);
        var synced = page.Pushes.Take(page.Pushes.Count - 1).Select(p => p.Message).ToList();
        Assert.Equal([4UL, 5UL], synced.Where(m => m.ConversationId == direct).Select(m => m.ConversationSeq));
        Assert.Equal([3UL, 4UL, 5UL], synced.Where(m => m.ConversationId == groupConversation).Select(m => m.ConversationSeq));
        // The sync's end is a typed event: its content as the gateway writes it for the client.
        var starts = JsonDocument.Parse(EasyIm.Gateway.Wire.MsgCodec.FromWire(page.Pushes[^1].Message).Content).RootElement.GetProperty("data").GetProperty("retained_from_seq");
        Assert.Equal((4UL, 3UL), (starts.GetProperty(direct).GetUInt64(), starts.GetProperty(groupConversation).GetUInt64()));
        host.AssertNoFaults();
    }

    /// <summary>Measures retention's delete throughput on PostgreSQL with the shipped batch size (printed; docs/architecture.md quotes it).</summary>
    [SkippableFact]
    public async Task Retention_deletes_a_50000_message_backlog_in_short_batches_on_PostgreSQL()
    {
        Skip.If(_unavailable is not null, _unavailable);
        await using var host = await StartAsync(new() { ["Messaging:Retention:DirectDays"] = "30" });
        await host.DbAsync(db => RetentionBacklog.SeedAsync(db, 50_000, 40));
        await host.DbAsync(db => db.Database.ExecuteSqlRawAsync("ANALYZE \"messaging\".\"messages\""));
        var retention = host.Services.GetRequiredService<MessageRetention>();
        var batchSize = new EasyIm.Messaging.RetentionOptions().BatchSize;

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (deleted, batches) = await RetentionBacklog.DeleteTimedAsync(retention, batchSize, 30);
        clock.Stop();

        var sorted = batches.Order().ToList();
        output.WriteLine($"PostgreSQL: {deleted} messages in {batches.Count} batches of {batchSize}, {clock.Elapsed.TotalSeconds:F2} s without pauses " +
            $"({deleted / clock.Elapsed.TotalSeconds:F0} messages/s); batch p50 {sorted[sorted.Count / 2].TotalMilliseconds:F1} ms, max {sorted[^1].TotalMilliseconds:F1} ms");
        Assert.Equal(50_000, deleted);
        Assert.Equal(0, await host.DbAsync(db => db.Messages.CountAsync(m => m.ConversationId.StartsWith("seed_"))));
    }

    private static Task AgeAsync(MessagingHost host, string conversation, long fromSeq, long toSeq, int days) =>
        host.DbAsync(db => db.Messages
            .Where(m => m.ConversationId == conversation && m.ConversationSeq >= fromSeq && m.ConversationSeq <= toSeq)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.SentAtMs, m => m.SentAtMs - days * 86_400_000L)));
}
