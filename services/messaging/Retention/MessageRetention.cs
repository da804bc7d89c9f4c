using EasyIm.Messaging.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Messaging.Retention;

/// <summary>
/// Deletes messages older than <see cref="RetentionOptions"/> allows, oldest first, in transactions of at most
/// <see cref="RetentionOptions.BatchSize"/> rows with <see cref="RetentionOptions.PauseMs"/> between them: on
/// SQLite each batch holds the one writer for milliseconds and the send path gets it between any two. Each
/// batch raises its conversations' <see cref="Conversation.PrunedThroughSeq"/> in the same transaction, so
/// history, sync and unread counts agree with what is gone; counters and cursors stay (seqs are never reused).
/// Batched deletes by the (chat_type, sent_at) index rather than time partitions: see docs/architecture.md, "Retention".
/// </summary>
public sealed class MessageRetention(IServiceScopeFactory scopes, MessagingOptions options, TimeProvider time, ILogger<MessageRetention> logger)
    : BackgroundService
{
    /// <summary>A PostgreSQL advisory lock key: one replica sweeps at a time, the others find it taken and wait for their next turn.</summary>
    private const long SweepLockKey = 0x45_49_4D_52_45_54; // "EIMRET"

    private RetentionOptions Settings => options.Retention;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Settings.Enabled && Settings.StreamDays == 0)
            return;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The next sweep starts where this one stopped: every batch committed or left nothing behind.
                logger.LogWarning(ex, "Retention sweep failed; trying again in {IntervalSeconds} s", Settings.IntervalSeconds);
            }
            await Task.Delay(TimeSpan.FromSeconds(Settings.IntervalSeconds), time, stoppingToken);
        }
    }

    /// <summary>Deletes everything that has come of age, batch by batch; returns how many messages it deleted.</summary>
    public async Task<long> SweepAsync(CancellationToken ct)
    {
        var deleted = 0L;
        foreach (var (kind, days) in new[] { (0, Settings.DirectDays), (1, Settings.GroupDays) })
        {
            if (days == 0)
                continue;
            var cutoffMs = time.GetUtcNow().AddDays(-days).ToUnixTimeMilliseconds();
            var ofKind = 0L;
            while (true)
            {
                var batch = await DeleteBatchAsync(kind, cutoffMs, ct);
                if (batch is null)
                    break; // another replica is sweeping
                ofKind += batch.Value;
                if (batch.Value < Settings.BatchSize)
                    break;
                await Task.Delay(TimeSpan.FromMilliseconds(Settings.PauseMs), time, ct);
            }
            if (ofKind > 0)
                logger.LogInformation("Retention deleted {Count} {Kind} messages sent before {Cutoff:u}",
                    ofKind, kind == 0 ? "one-to-one" : "group", DateTimeOffset.FromUnixTimeMilliseconds(cutoffMs));
            deleted += ofKind;
        }
        await PruneStreamAsync(ct);
        return deleted;
    }

    /// <summary>Deletes the update stream's entries and events older than <see cref="RetentionOptions.StreamDays"/>, oldest first, batch by batch; returns how many.</summary>
    public async Task<long> PruneStreamAsync(CancellationToken ct)
    {
        if (Settings.StreamDays == 0)
            return 0;
        var cutoffMs = time.GetUtcNow().AddDays(-Settings.StreamDays).ToUnixTimeMilliseconds();
        var pruned = 0L;
        while (true)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<MessagingDbContext>();
            // The oldest of both kinds (message runs and events), each read by its created_at index.
            var entries = await db.StreamEntries.AsNoTracking()
                .Where(e => e.CreatedAtMs < cutoffMs)
                .OrderBy(e => e.CreatedAtMs)
                .Take(Settings.BatchSize)
                .Select(e => new { e.UserId, e.Position, e.CreatedAtMs })
                .ToListAsync(ct);
            var events = await db.StreamEvents.AsNoTracking()
                .Where(e => e.CreatedAtMs < cutoffMs)
                .OrderBy(e => e.CreatedAtMs)
                .Take(Settings.BatchSize)
                .Select(e => new { e.UserId, e.Position, e.CreatedAtMs })
                .ToListAsync(ct);
            var oldest = entries.Concat(events).OrderBy(e => e.CreatedAtMs).Take(Settings.BatchSize).ToList();
            if (oldest.Count == 0)
                break;
            // One short statement per user (a key range), in one transaction: the writer is held for milliseconds.
            await using (var transaction = await db.Database.BeginTransactionAsync(ct))
            {
                foreach (var user in oldest.GroupBy(e => e.UserId))
                {
                    var (userId, through) = (user.Key, user.Max(e => e.Position));
                    pruned += await db.StreamEntries.Where(e => e.UserId == userId && e.Position <= through && e.CreatedAtMs < cutoffMs).ExecuteDeleteAsync(ct);
                    // The user's events below the same position go with them: what is kept stays a suffix of the stream.
                    pruned += await db.StreamEvents.Where(e => e.UserId == userId && e.Position <= through && e.CreatedAtMs < cutoffMs).ExecuteDeleteAsync(ct);
                }
                await transaction.CommitAsync(ct);
            }
            if (oldest.Count < Settings.BatchSize)
                break;
            await Task.Delay(TimeSpan.FromMilliseconds(Settings.PauseMs), time, ct);
        }
        if (pruned > 0)
            logger.LogInformation("Retention pruned {Count} update-stream entries stored before {Cutoff:u}", pruned, DateTimeOffset.FromUnixTimeMilliseconds(cutoffMs));
        return pruned;
    }

    /// <summary>
    /// The oldest messages of a kind sent before the cutoff, at most one batch: read by the (chat_type, sent_at)
    /// index in its order, so a batch costs the same at any table size.
    /// </summary>
    internal static IQueryable<Message> Due(MessagingDbContext db, int kind, long cutoffMs, int batchSize) =>
        db.Messages.AsNoTracking()
            .Where(m => m.ChatType == kind && m.SentAtMs < cutoffMs)
            .OrderBy(m => m.SentAtMs)
            .Take(batchSize);

    /// <summary>One batch in one short transaction; null when another replica holds the sweep.</summary>
    internal async Task<int?> DeleteBatchAsync(int kind, long cutoffMs, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MessagingDbContext>();
        // SQLite: BEGIN IMMEDIATE, the writer from here to the commit, a few milliseconds.
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        if (db is PostgresMessagingDbContext
            && !await db.Database.SqlQuery<bool>($"SELECT pg_try_advisory_xact_lock({SweepLockKey}) AS \"Value\"").SingleAsync(ct))
            return null;
        var due = await Due(db, kind, cutoffMs, Settings.BatchSize)
            .Select(m => new { m.Id, m.ConversationId, m.ConversationSeq })
            .ToListAsync(ct);
        if (due.Count == 0)
            return 0;
        // Marks first, like the send path (conversation rows, then message rows): history and sync read
        // from past the mark, so a message left below it (sent_at out of seq order by a few ms) is hidden
        // until a later batch deletes it.
        await MessagingSql.RaisePrunedAsync(db,
            due.GroupBy(m => m.ConversationId).Select(g => new MessagingSql.Pruned(g.Key, g.Max(m => m.ConversationSeq))), ct);
        var ids = due.Select(m => m.Id).ToList();
        var deleted = await db.Messages.Where(m => ids.Contains(m.Id)).ExecuteDeleteAsync(ct);
        await transaction.CommitAsync(ct);
        return deleted;
    }
}
