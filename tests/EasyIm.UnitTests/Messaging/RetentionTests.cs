using System.Text.Json;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Hosting;
using EasyIm.Messaging;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Retention;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.UnitTests.Messaging;

/// <summary>Retention on a real SQLite file: what goes, what stays, and what history, sync and the conversation list say after it.</summary>
public sealed class RetentionTests
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Messaging:Retention:DirectDays"] = "30",
        ["Messaging:Retention:GroupDays"] = "7",
        ["Messaging:Retention:BatchSize"] = "2",
        ["Messaging:SyncPageSize"] = "2",
    };

    /// <summary>Moves the given messages' sent_at back by so many days, as if they had been stored then.</summary>
    private static Task AgeAsync(MessagingHost host, string conversation, long fromSeq, long toSeq, int days) =>
        host.DbAsync(db => db.Messages
            .Where(m => m.ConversationId == conversation && m.ConversationSeq >= fromSeq && m.ConversationSeq <= toSeq)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.SentAtMs, m => m.SentAtMs - days * 86_400_000L)));

    private static async Task<(string Direct, string Group, long A, long B)> ChatAsync(MessagingHost host)
    {
        var (a, b, group) = (MessagingHost.NewUserId(), MessagingHost.NewUserId(), MessagingHost.NewUserId());
        await host.BefriendAsync(a, b);
        await host.JoinGroupAsync(group, a, "owner");
        await host.JoinGroupAsync(group, b);
        var direct = Enumerable.Range(1, 5).Select(i => $"d-{i}").ToArray();
        var grouped = Enumerable.Range(1, 5).Select(i => $"g-{i}").ToArray();
        await host.SubmitAsync([.. direct.Select(id => MessagingHost.Chat(a, b, id, id)), .. grouped.Select(id => MessagingHost.Chat(a, group, id, id, chatType: 1))]);
        var acks = await host.AnswersAsync(a, [.. direct, .. grouped]);
        return (acks[0].ConversationId!, acks[5].ConversationId!, a, b);
    }

    [Fact]
    public async Task Retention_deletes_old_messages_per_kind_keeps_recent_ones_and_never_touches_counters_or_cursors()
    {
        await using var host = await MessagingHost.StartAsync(Settings);
        var (direct, group, a, b) = await ChatAsync(host);
        await host.Harness.Bus.Publish(new RecordReceipts([new Receipt(b, direct, 1, MessageStatus.Read)]));
        await host.WaitConsumedAsync<RecordReceipts>();
        // Direct: 1-3 past 30 days, 4 at 20 days (kept). Group: 1-2 at 10 days (past 7), 3 at 3 days (kept).
        await AgeAsync(host, direct, 1, 3, 40);
        await AgeAsync(host, direct, 4, 4, 20);
        await AgeAsync(host, group, 1, 2, 10);
        await AgeAsync(host, group, 3, 3, 3);

        var deleted = await host.Services.GetRequiredService<MessageRetention>().SweepAsync(CancellationToken.None);
        var again = await host.Services.GetRequiredService<MessageRetention>().SweepAsync(CancellationToken.None);

        var left = await host.DbAsync(db => db.Messages.AsNoTracking().Where(m => m.ConversationId == direct || m.ConversationId == group)
            .Select(m => new { m.ConversationId, m.ConversationSeq }).ToListAsync());
        Assert.Equal([4L, 5L], left.Where(m => m.ConversationId == direct).Select(m => m.ConversationSeq).Order());
        Assert.Equal([3L, 4L, 5L], left.Where(m => m.ConversationId == group).Select(m => m.ConversationSeq).Order());
        Assert.InRange(deleted, 0, 5); // the background sweep may have taken some first
        Assert.Equal(0, again);
        var conversations = await host.DbAsync(db => db.Conversations.AsNoTracking().Where(c => c.Id == direct || c.Id == group).ToDictionaryAsync(c => c.Id));
        Assert.Equal((5L, 3L), (conversations[direct].LastSeq, conversations[direct].PrunedThroughSeq));
        Assert.Equal((5L, 2L), (conversations[group].LastSeq, conversations[group].PrunedThroughSeq));
        var cursor = await host.DbAsync(db => db.Cursors.AsNoTracking().SingleAsync(k => k.UserId == b && k.ConversationId == direct));
        Assert.Equal(1, cursor.ReadSeq);

        // A new message after retention takes the next seq: seqs are never reused.
        await host.SubmitAsync(MessagingHost.Chat(a, b, "d-6", "d-6"));
        Assert.Equal(6UL, (await host.AnswersAsync(a, "d-6"))[0].ConversationSeq);
        host.AssertNoFaults();
    }

    [Fact]
    public async Task History_says_where_retained_history_starts_and_pages_only_what_is_kept()
    {
        await using var host = await MessagingHost.StartAsync(Settings);
        var (direct, _, a, _) = await ChatAsync(host);
        await AgeAsync(host, direct, 1, 3, 40);
        await host.Services.GetRequiredService<MessageRetention>().SweepAsync(CancellationToken.None);

        var client = host.Harness.GetRequestClient<GetHistory>();
        var newest = (await client.GetResponse<HistoryPage>(new GetHistory(a, direct, null, 50))).Message;
        var older = (await client.GetResponse<HistoryPage>(new GetHistory(a, direct, 4, 50))).Message;

        Assert.Equal((5UL, 4UL), (newest.Total, newest.RetainedFromSeq));
        Assert.Equal([5UL, 4UL], newest.Items.Select(m => m.ConversationSeq));
        Assert.Equal((4UL, 0), (older.RetainedFromSeq, older.Items.Count));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_row_below_the_mark_that_no_batch_reached_yet_is_hidden_from_history_and_sync()
    {
        await using var host = await MessagingHost.StartAsync(Settings);
        var (direct, _, a, b) = await ChatAsync(host);
        // Sent_at out of seq order (two replicas' clocks): seq 2 is old, seq 1 is not; retention takes 2.
        await AgeAsync(host, direct, 2, 2, 40);
        await host.Services.GetRequiredService<MessageRetention>().SweepAsync(CancellationToken.None);

        var history = (await host.Harness.GetRequestClient<GetHistory>().GetResponse<HistoryPage>(new GetHistory(a, direct, null, 50))).Message;
        var page = await SyncAllAsync(host, b, "b-mark", new Dictionary<string, ulong> { [direct] = 0 });

        Assert.Equal(3UL, history.RetainedFromSeq);
        Assert.Equal([5UL, 4UL, 3UL], history.Items.Select(m => m.ConversationSeq));
        Assert.Equal([3UL, 4UL, 5UL], page.Messages.Where(m => m.ConversationId == direct).Select(m => m.ConversationSeq));
        host.AssertNoFaults();
    }

    private sealed record Synced(List<WireMessage> Messages, JsonElement Done, int Pages);

    /// <summary>A whole sync asked for page by page, as a gateway does.</summary>
    private static async Task<Synced> SyncAllAsync(MessagingHost host, long user, string connection, IReadOnlyDictionary<string, ulong>? cursors)
    {
        var client = host.Harness.Bus.CreateRequestClient<SyncConversations>(RequestTimeout.After(s: 20));
        var pushes = new List<UserPush>();
        SyncResume? resume = null;
        var pages = 0;
        do
        {
            var page = (await client.GetResponse<SyncPage>(new SyncConversations(user, connection, cursors, Resume: resume))).Message;
            pushes.AddRange(page.Pushes);
            resume = page.Resume;
        }
        while (resume is not null && ++pages < 100);
        var done = JsonDocument.Parse(pushes[^1].Message.Text()).RootElement.GetProperty("data").Clone();
        return new Synced(pushes[..^1].Select(p => p.Message).ToList(), done, pages + 1);
    }

    [Fact]
    public async Task A_sync_from_seq_0_after_retention_delivers_exactly_the_kept_messages_once_and_says_where_each_conversation_starts()
    {
        await using var host = await MessagingHost.StartAsync(Settings);
        var (direct, group, _, b) = await ChatAsync(host);
        await AgeAsync(host, direct, 1, 3, 40);
        await AgeAsync(host, group, 1, 2, 10);
        await host.Services.GetRequiredService<MessageRetention>().SweepAsync(CancellationToken.None);

        // Pages of 2 messages: the conversations' starts are carried from page to page to the closing event.
        var fromZero = await SyncAllAsync(host, b, "b-new", new Dictionary<string, ulong> { [direct] = 0, [group] = 0 });
        var fromArrived = await SyncAllAsync(host, b, "b-old", null);
        var upToDate = await SyncAllAsync(host, b, "b-now", new Dictionary<string, ulong> { [direct] = 5, [group] = 4 });

        foreach (var synced in new[] { fromZero, fromArrived })
        {
            Assert.Equal([4UL, 5UL], synced.Messages.Where(m => m.ConversationId == direct).Select(m => m.ConversationSeq));
            Assert.Equal([3UL, 4UL, 5UL], synced.Messages.Where(m => m.ConversationId == group).Select(m => m.ConversationSeq));
            Assert.True(synced.Done.GetProperty("done").GetBoolean());
            var starts = synced.Done.GetProperty("retained_from_seq");
            Assert.Equal((4UL, 3UL), (starts.GetProperty(direct).GetUInt64(), starts.GetProperty(group).GetUInt64()));
            Assert.True(synced.Pages >= 3, $"expected several pages, got {synced.Pages}");
        }
        Assert.Equal([5UL], upToDate.Messages.Select(m => m.ConversationSeq));
        Assert.False(upToDate.Done.TryGetProperty("retained_from_seq", out _), "a cursor inside kept history needs no start");
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Unread_counts_never_count_deleted_messages()
    {
        await using var host = await MessagingHost.StartAsync(Settings);
        var (direct, group, _, b) = await ChatAsync(host);
        await host.Harness.Bus.Publish(new RecordReceipts([new Receipt(b, group, 4, MessageStatus.Read)]));
        await host.WaitConsumedAsync<RecordReceipts>();
        await AgeAsync(host, direct, 1, 3, 40);
        await AgeAsync(host, group, 1, 2, 10);
        await host.Services.GetRequiredService<MessageRetention>().SweepAsync(CancellationToken.None);

        var list = (await host.Harness.GetRequestClient<ListConversations>().GetResponse<ConversationList>(new ListConversations(b))).Message;

        var unread = list.Items.ToDictionary(c => c.ConversationId, c => c.Unread);
        Assert.Equal(2UL, unread[direct]); // 5 messages, 3 deleted, none read
        Assert.Equal(1UL, unread[group]); // read through 4, past the mark
        Assert.All(list.Items, c => Assert.NotNull(c.LastMessage));
        host.AssertNoFaults();
    }

    [Fact]
    public async Task A_conversation_whose_every_message_was_deleted_has_nothing_unread_and_syncs_nothing()
    {
        await using var host = await MessagingHost.StartAsync(Settings);
        var (direct, _, _, b) = await ChatAsync(host);
        await AgeAsync(host, direct, 1, 5, 40);
        await host.Services.GetRequiredService<MessageRetention>().SweepAsync(CancellationToken.None);

        var list = (await host.Harness.GetRequestClient<ListConversations>().GetResponse<ConversationList>(new ListConversations(b))).Message;
        var synced = await SyncAllAsync(host, b, "b-empty", new Dictionary<string, ulong> { [direct] = 0 });

        var item = list.Items.Single(c => c.ConversationId == direct);
        Assert.Equal((0UL, null), (item.Unread, item.LastMessage));
        Assert.DoesNotContain(synced.Messages, m => m.ConversationId == direct);
        Assert.Equal(6UL, synced.Done.GetProperty("retained_from_seq").GetProperty(direct).GetUInt64());
        host.AssertNoFaults();
    }

    [Fact]
    public async Task Retention_is_off_by_default()
    {
        await using var host = await MessagingHost.StartAsync();
        var (direct, _, _, _) = await ChatAsync(host);
        await AgeAsync(host, direct, 1, 5, 3650);

        Assert.Equal(0, await host.Services.GetRequiredService<MessageRetention>().SweepAsync(CancellationToken.None));
        Assert.Equal(5, await host.DbAsync(db => db.Messages.CountAsync(m => m.ConversationId == direct)));
    }

    [Theory]
    [InlineData("DirectDays", "-1")]
    [InlineData("GroupDays", "-30")]
    [InlineData("GroupDays", "36501")]
    [InlineData("BatchSize", "0")]
    [InlineData("BatchSize", "10001")]
    [InlineData("PauseMs", "-1")]
    [InlineData("IntervalSeconds", "0")]
    public void Bad_retention_settings_are_refused_at_start_naming_the_key(string key, string value)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [$"Messaging:Retention:{key}"] = value })
            .Build();

        var ex = Assert.Throws<StartupException>(() => MessagingOptions.Read(configuration));

        Assert.Contains($"Messaging:Retention:{key}", ex.Message);
    }
}

/// <summary>Retention's delete throughput on a real SQLite file with the shipped batch size (printed; docs/architecture.md quotes it).</summary>
public sealed class RetentionThroughputTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task Retention_deletes_a_50000_message_backlog_in_short_batches_on_SQLite()
    {
        await using var host = await MessagingHost.StartAsync(new Dictionary<string, string?> { ["Messaging:Retention:DirectDays"] = "30" });
        await host.DbAsync(db => RetentionBacklog.SeedAsync(db, 50_000, 40));
        var batchSize = new RetentionOptions().BatchSize;

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (deleted, batches) = await RetentionBacklog.DeleteTimedAsync(host.Services.GetRequiredService<MessageRetention>(), batchSize, 30);
        clock.Stop();

        var sorted = batches.Order().ToList();
        output.WriteLine($"SQLite: {deleted} messages in {batches.Count} batches of {batchSize}, {clock.Elapsed.TotalSeconds:F2} s without pauses " +
            $"({deleted / clock.Elapsed.TotalSeconds:F0} messages/s); batch p50 {sorted[sorted.Count / 2].TotalMilliseconds:F1} ms, max {sorted[^1].TotalMilliseconds:F1} ms");
        Assert.InRange(deleted, 0, 50_000); // the background sweep, which starts with the host, may have taken some
        Assert.Equal(0, await host.DbAsync(db => db.Messages.CountAsync(m => m.ConversationId.StartsWith("seed_"))));
    }
}
