using System.Diagnostics;
using EasyIm.Messaging.Data;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.UnitTests.Messaging;

/// <summary>
/// A backlog of old one-to-one messages written straight into messaging's store (one statement, either
/// provider), for retention to delete: <c>count</c> messages over 100 conversations of their own. Linked into the integration tests, which fill a running server's store with it.
/// </summary>
internal static class RetentionBacklog
{
    public static Task SeedAsync(MessagingDbContext db, int count, int daysAgo) => SeedAsync(db, count, DateTimeOffset.UtcNow.AddDays(-daysAgo));

    /// <summary>The backlog, sent within a second after <paramref name="sentAt"/>: it comes due all at once.</summary>
    public static async Task SeedAsync(MessagingDbContext db, int count, DateTimeOffset sentAt)
    {
        var tag = Random.Shared.NextInt64(1L << 40, 1L << 50);
        var sentAtMs = sentAt.ToUnixTimeMilliseconds();
        var postgres = db.Database.IsNpgsql();
        var (messages, conversations) = postgres ? ("\"messaging\".\"messages\"", "\"messaging\".\"conversations\"") : ("\"messages\"", "\"conversations\"");
        var numbers = postgres
            ? $"SELECT i FROM generate_series(0, {count - 1}) AS i"
            : $"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {count - 1}) SELECT i FROM n";
        // Ids far above any snowflake the test server makes; one sender per conversation, two users each.
        // Built from numbers and fixed names only: nothing from outside reaches the text.
        var addConversations =
            $"INSERT INTO {conversations} (id, kind, last_seq, user_a, user_b, group_id, last_message_id, last_sent_at, pruned_through_seq) " +
            $"SELECT 'seed_{tag}_' || i, 0, {(count + 99) / 100}, {tag} + 2 * i, {tag} + 2 * i + 1, 0, 0, {sentAtMs}, 0 FROM ({(postgres ? "SELECT generate_series(0, 99) AS i" : "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99) SELECT i FROM n")}) AS k";
        var addMessages =
            $"INSERT INTO {messages} (id, conversation_id, conversation_seq, sender_id, to_id, client_msg_id, chat_type, msg_type, content, sent_at, status) " +
            $"SELECT {long.MaxValue / 2} + {tag} * 1000 + i, 'seed_{tag}_' || (i % 100), i / 100 + 1, {tag} + 2 * (i % 100), {tag} + 2 * (i % 100) + 1, " +
            $"'seed-' || i, 0, 0, 'an old message, about as long as a chat line usually is, to be deleted by retention', {sentAtMs} + i % 1000, 1 FROM ({numbers}) AS s";
        await db.Database.ExecuteSqlRawAsync(addConversations);
        await db.Database.ExecuteSqlRawAsync(addMessages);
    }

    /// <summary>Deletes the backlog batch by batch as the retention service does, timing each batch (its transaction).</summary>
    public static async Task<(long Deleted, List<TimeSpan> Batches)> DeleteTimedAsync(EasyIm.Messaging.Retention.MessageRetention retention, int batchSize, int days)
    {
        var cutoff = DateTimeOffset.UtcNow.AddDays(-days).ToUnixTimeMilliseconds();
        var batches = new List<TimeSpan>();
        var deleted = 0L;
        while (true)
        {
            var clock = Stopwatch.StartNew();
            var batch = await retention.DeleteBatchAsync(0, cutoff, CancellationToken.None) ?? 0;
            batches.Add(clock.Elapsed);
            deleted += batch;
            if (batch < batchSize)
                return (deleted, batches);
        }
    }
}
