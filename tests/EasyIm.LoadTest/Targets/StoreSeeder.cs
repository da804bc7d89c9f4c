using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace EasyIm.LoadTest.Targets;

/// <summary>A conversation to fill: its id and kind as messaging stores them, who may send in it, and its share of the messages.</summary>
/// <param name="Pending">Messages at its end that the measuring user has not had (its ARRIVED cursor that far behind); 0 for the others.</param>
public sealed record SeedConversation(string Id, bool Group, long UserA, long UserB, long GroupId, long[] Members, double Weight, long Pending = 0)
{
    /// <summary>Its last seq once seeded.</summary>
    public long LastSeq { get; set; }
}

/// <summary>
/// Fills a stopped server's messaging store with many messages, straight into its tables, as the server itself
/// would have written them over weeks: each message in a conversation drawn by the conversations' weights, in one
/// time order, with the next seq of its conversation, a sender among its members, text of a few words to a few
/// lines; then each conversation's head (last seq, last message) and every member's cursors (all read, but for
/// <see cref="SeedConversation.Pending"/>). SQLite through a prepared insert in large transactions, PostgreSQL
/// through binary COPY. Ids are snowflakes of the past (the seeded messages' own times) so the server's new ones
/// never collide with them.
/// </summary>
public static class StoreSeeder
{
    private static readonly long SnowflakeEpoch = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

    private static readonly string[] Words =
    [
        "ok", "yes", "no", "see", "you", "tomorrow", "at", "the", "office", "lunch", "meeting", "moved", "to", "three",
        "thanks", "great", "idea", "let", "me", "check", "and", "get", "back", "sounds", "good", "where", "are", "we",
        "going", "tonight", "train", "is", "late", "again", "photo", "from", "trip", "send", "link", "please", "done",
        "call", "later", "busy", "now", "weekend", "plans", "happy", "birthday", "!", "?", "haha", "sure", "why", "not",
    ];

    public sealed record Result(long Messages, TimeSpan Took);

    private readonly record struct Row(long Id, string ConversationId, long Seq, long Sender, long To, int ChatType, string Content, long SentAt, long Index);

    public static async Task<Result> SeedSqliteAsync(string dataDirectory, IReadOnlyList<SeedConversation> conversations, long messages, long measuringUser,
        TextWriter progress, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var path = Path.Combine(dataDirectory, "messaging.db");
        if (!File.Exists(path))
            throw new FileNotFoundException("no messaging store to fill", path);
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        await connection.OpenAsync(cancellationToken);
        await ExecuteAsync(connection, "PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;", cancellationToken);

        SqliteTransaction? transaction = null;
        SqliteCommand? insert = null;
        SqliteParameter[] p = [];
        var written = 0L;
        foreach (var row in Rows(conversations, messages))
        {
            if (transaction is null)
            {
                transaction = connection.BeginTransaction();
                insert = connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = "INSERT INTO messages (id, conversation_id, conversation_seq, sender_id, to_id, client_msg_id, chat_type, msg_type, content, sent_at, status) " +
                    "VALUES ($id, $c, $s, $from, $to, $cm, $ct, 0, $body, $at, 3)";
                p = new[] { "$id", "$c", "$s", "$from", "$to", "$cm", "$ct", "$body", "$at" }.Select(n => insert.Parameters.Add(n, n is "$c" or "$cm" or "$body" ? SqliteType.Text : SqliteType.Integer)).ToArray();
                insert.Prepare();
            }
            (p[0].Value, p[1].Value, p[2].Value, p[3].Value, p[4].Value) = (row.Id, row.ConversationId, row.Seq, row.Sender, row.To);
            (p[5].Value, p[6].Value, p[7].Value, p[8].Value) = (ClientMsgId(row.Index), row.ChatType, row.Content, row.SentAt);
            await insert!.ExecuteNonQueryAsync(cancellationToken);
            if (++written % 200_000 == 0)
            {
                await transaction.CommitAsync(cancellationToken);
                await insert.DisposeAsync();
                await transaction.DisposeAsync();
                transaction = null;
                await Progress(progress, written, messages, watch);
            }
        }
        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
            await insert!.DisposeAsync();
            await transaction.DisposeAsync();
        }
        await WriteHeadsAndCursorsAsync(connection, conversations, measuringUser, "", cancellationToken);
        await ExecuteAsync(connection, "PRAGMA wal_checkpoint(TRUNCATE);", cancellationToken);
        return new Result(written, watch.Elapsed);
    }

    public static async Task<Result> SeedPostgresAsync(string connectionString, IReadOnlyList<SeedConversation> conversations, long messages, long measuringUser,
        TextWriter progress, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var written = 0L;
        var copy = await connection.BeginBinaryImportAsync(
            "COPY messaging.messages (id, conversation_id, conversation_seq, sender_id, to_id, client_msg_id, chat_type, msg_type, content, sent_at, status) FROM STDIN (FORMAT BINARY)",
            cancellationToken);
        try
        {
            foreach (var row in Rows(conversations, messages))
            {
                await copy.StartRowAsync(cancellationToken);
                await copy.WriteAsync(row.Id, NpgsqlDbType.Bigint, cancellationToken);
                await copy.WriteAsync(row.ConversationId, NpgsqlDbType.Varchar, cancellationToken);
                await copy.WriteAsync(row.Seq, NpgsqlDbType.Bigint, cancellationToken);
                await copy.WriteAsync(row.Sender, NpgsqlDbType.Bigint, cancellationToken);
                await copy.WriteAsync(row.To, NpgsqlDbType.Bigint, cancellationToken);
                await copy.WriteAsync(ClientMsgId(row.Index), NpgsqlDbType.Varchar, cancellationToken);
                await copy.WriteAsync(row.ChatType, NpgsqlDbType.Integer, cancellationToken);
                await copy.WriteAsync(0, NpgsqlDbType.Integer, cancellationToken);
                await copy.WriteAsync(row.Content, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(row.SentAt, NpgsqlDbType.Bigint, cancellationToken);
                await copy.WriteAsync(3, NpgsqlDbType.Integer, cancellationToken);
                if (++written % 500_000 == 0)
                    await Progress(progress, written, messages, watch);
            }
            await copy.CompleteAsync(cancellationToken);
        }
        finally
        {
            await copy.DisposeAsync();
        }
        await WriteHeadsAndCursorsAsync(connection, conversations, measuringUser, "messaging.", cancellationToken);
        // What autovacuum does soon after a table grows this much; done here so that the measurement does not depend on when it runs.
        await using (var analyze = new NpgsqlCommand("ANALYZE messaging.messages; ANALYZE messaging.conversations; ANALYZE messaging.cursors;", connection))
            await analyze.ExecuteNonQueryAsync(cancellationToken);
        return new Result(written, watch.Elapsed);
    }

    private static Task Progress(TextWriter progress, long written, long messages, Stopwatch watch) =>
        progress.WriteLineAsync($"  seeding: {written:N0} of {messages:N0} messages ({written / watch.Elapsed.TotalSeconds:N0}/s)");

    private static string ClientMsgId(long index) => "seed-" + index.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The messages in time order, from 60 days ago to an hour ago. Deterministic (a fixed seed): the same
    /// conversations and count give the same store. Each conversation's last seq is left in it for the heads.
    /// </summary>
    private static IEnumerable<Row> Rows(IReadOnlyList<SeedConversation> conversations, long messages)
    {
        var random = new Random(17);
        var cumulative = new double[conversations.Count];
        var total = 0.0;
        for (var i = 0; i < conversations.Count; i++)
            cumulative[i] = total += conversations[i].Weight;
        var lastSeq = new long[conversations.Count];
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var start = now - 60L * 86_400_000;
        var span = now - 3_600_000 - start;
        var content = new System.Text.StringBuilder(512);
        for (var i = 0L; i < messages; i++)
        {
            var pick = Array.BinarySearch(cumulative, random.NextDouble() * total);
            var c = pick < 0 ? Math.Min(~pick, conversations.Count - 1) : pick;
            var conversation = conversations[c];
            var seq = ++lastSeq[c];
            var sender = conversation.Members[random.Next(conversation.Members.Length)];
            var to = conversation.Group ? conversation.GroupId : sender == conversation.UserA ? conversation.UserB : conversation.UserA;
            var sentAt = start + (long)(span * ((double)i / messages));
            content.Clear();
            // Mostly a few words, now and then a few lines: about 60 characters on average.
            var words = random.Next(10) == 0 ? random.Next(20, 60) : random.Next(1, 12);
            for (var w = 0; w < words; w++)
                content.Append(w == 0 ? "" : " ").Append(Words[random.Next(Words.Length)]);
            var id = ((sentAt - SnowflakeEpoch) << 22) | (i & 0x3FFFFF);
            conversation.LastSeq = seq;
            yield return new Row(id, conversation.Id, seq, sender, to, conversation.Group ? 1 : 0, content.ToString(), sentAt, i);
        }
    }

    /// <summary>Each conversation's row (its last seq and message) and every member's cursor: all read, but the measuring user's pending ones.</summary>
    private static async Task WriteHeadsAndCursorsAsync(System.Data.Common.DbConnection connection, IReadOnlyList<SeedConversation> conversations, long measuringUser,
        string schema, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var head = connection.CreateCommand();
        head.Transaction = transaction;
        head.CommandText = $"INSERT INTO {schema}conversations AS c (id, kind, last_seq, user_a, user_b, group_id, last_message_id, last_sent_at, pruned_through_seq) " +
            $"SELECT @id, @kind, m.conversation_seq, @a, @b, @g, m.id, m.sent_at, 0 FROM {schema}messages m WHERE m.conversation_id = @id AND m.conversation_seq = @seq " +
            "ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, last_message_id = excluded.last_message_id, last_sent_at = excluded.last_sent_at";
        await using var cursor = connection.CreateCommand();
        cursor.Transaction = transaction;
        cursor.CommandText = $"INSERT INTO {schema}cursors AS k (user_id, conversation_id, arrived_seq, read_seq) VALUES (@u, @id, @seq, @seq) " +
            "ON CONFLICT (user_id, conversation_id) DO UPDATE SET arrived_seq = excluded.arrived_seq, read_seq = excluded.read_seq";
        foreach (var conversation in conversations.Where(c => c.LastSeq > 0))
        {
            Set(head, ("@id", conversation.Id), ("@kind", conversation.Group ? 1 : 0), ("@a", conversation.UserA), ("@b", conversation.UserB),
                ("@g", conversation.GroupId), ("@seq", conversation.LastSeq));
            if (await head.ExecuteNonQueryAsync(cancellationToken) != 1)
                throw new InvalidOperationException($"no head written for {conversation.Id}");
            foreach (var member in conversation.Members)
            {
                var seq = member == measuringUser ? Math.Max(0, conversation.LastSeq - conversation.Pending) : conversation.LastSeq;
                Set(cursor, ("@u", member), ("@id", conversation.Id), ("@seq", seq));
                await cursor.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        await transaction.CommitAsync(cancellationToken);
    }

    private static void Set(System.Data.Common.DbCommand command, params (string Name, object Value)[] values)
    {
        command.Parameters.Clear();
        foreach (var (name, value) in values)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
