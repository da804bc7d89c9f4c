using System.Data.Common;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using SQLitePCL;

namespace EasyIm.Messaging.Data;

/// <summary>
/// The send path's writes, as statements EF cannot express (upserts that move counters atomically) or
/// would issue row by row. The SQL is the same on SQLite (3.35+) and PostgreSQL; only the table names
/// differ (PostgreSQL's carry the service's schema), and how they run (see <see cref="RunAsync"/>).
/// </summary>
internal static class MessagingSql
{
    /// <param name="Count">How many messages the batch adds to the conversation.</param>
    public sealed record ConversationAdvance(string Id, int Kind, long UserA, long UserB, long GroupId, long Count, long LastMessageId, long LastSentAtMs);

    public sealed record CursorRaise(long UserId, string ConversationId, long ArrivedSeq, long ReadSeq);

    /// <summary>
    /// Adds each row's Count to its conversation's last_seq (creating the conversation when new) and
    /// returns the new last_seq by conversation id: the batch owns seqs last_seq - Count + 1 .. last_seq.
    /// On PostgreSQL the update locks each row until the transaction ends, so concurrent writers into one
    /// conversation (other replicas) take their ranges one after the other; rows are taken in id order so
    /// that two writers never wait for each other crosswise. On SQLite the transaction already holds the
    /// database's write lock.
    /// </summary>
    /// <param name="ownStreams">Gets the ids of the returned conversations that are their own streams (<see cref="Conversation.OwnStream"/>).</param>
    public static async Task<Dictionary<string, long>> AdvanceConversationsAsync(
        MessagingDbContext db, IEnumerable<ConversationAdvance> rows, HashSet<string> ownStreams, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        await RunAsync(db, rows.OrderBy(r => r.Id, StringComparer.Ordinal).ToList(),
            $"INSERT INTO {Table<Conversation>(db)} AS c (id, kind, last_seq, user_a, user_b, group_id, last_message_id, last_sent_at) VALUES ",
            static (r, b) =>
            {
                b.Text(r.Id);
                b.Int(r.Kind);
                b.Int(r.Count);
                b.Int(r.UserA);
                b.Int(r.UserB);
                b.Int(r.GroupId);
                b.Int(r.LastMessageId);
                b.Int(r.LastSentAtMs);
            },
            columns: 8,
            " ON CONFLICT (id) DO UPDATE SET last_seq = c.last_seq + excluded.last_seq, " +
            "last_message_id = excluded.last_message_id, last_sent_at = excluded.last_sent_at RETURNING id, last_seq, CAST(own_stream AS INTEGER)",
            (id, lastSeq, ownStream) =>
            {
                result[id] = lastSeq;
                if (ownStream != 0)
                    ownStreams.Add(id);
            },
            cancellationToken);
        return result;
    }

    /// <summary>
    /// Moves cursors forward to the given seqs (creating them when new), never backwards: a late or
    /// repeated receipt cannot undo a newer one, whatever order concurrent writers commit in. Rows are
    /// taken in key order, so that two writers never wait for each other crosswise.
    /// </summary>
    public static Task RaiseCursorsAsync(MessagingDbContext db, IEnumerable<CursorRaise> rows, CancellationToken cancellationToken) =>
        RunAsync(db, rows.OrderBy(r => r.UserId).ThenBy(r => r.ConversationId, StringComparer.Ordinal).ToList(),
            $"INSERT INTO {Table<ConversationCursor>(db)} AS k (user_id, conversation_id, arrived_seq, read_seq) VALUES ",
            static (r, b) =>
            {
                b.Int(r.UserId);
                b.Text(r.ConversationId);
                b.Int(r.ArrivedSeq);
                b.Int(r.ReadSeq);
            },
            columns: 4,
            " ON CONFLICT (user_id, conversation_id) DO UPDATE SET " +
            "arrived_seq = CASE WHEN excluded.arrived_seq > k.arrived_seq THEN excluded.arrived_seq ELSE k.arrived_seq END, " +
            "read_seq = CASE WHEN excluded.read_seq > k.read_seq THEN excluded.read_seq ELSE k.read_seq END",
            returned: null,
            cancellationToken);

    /// <summary>
    /// Inserts the messages. No ON CONFLICT: the caller deduped, and a duplicate that slipped past (a
    /// concurrent resend through another replica) fails the transaction, whose retry then finds it.
    /// </summary>
    public static Task InsertMessagesAsync(MessagingDbContext db, IReadOnlyList<Message> rows, CancellationToken cancellationToken) =>
        RunAsync(db, rows,
            $"INSERT INTO {Table<Message>(db)} (id, conversation_id, conversation_seq, sender_id, to_id, client_msg_id, chat_type, msg_type, content, sent_at, status) VALUES ",
            static (m, b) =>
            {
                b.Int(m.Id);
                b.Text(m.ConversationId);
                b.Int(m.ConversationSeq);
                b.Int(m.SenderId);
                b.Int(m.ToId);
                b.Text(m.ClientMsgId);
                b.Int(m.ChatType);
                b.Int(m.MsgType);
                b.Text(m.Content);
                b.Int(m.SentAtMs);
                b.Int(m.Status);
            },
            columns: 11,
            tail: "",
            returned: null,
            cancellationToken);

    /// <param name="Count">How many positions the transaction takes in the user's stream.</param>
    public sealed record HeadAdvance(long UserId, long Count);

    /// <summary>
    /// Moves each user's stream head by Count (creating it when new) and returns the new head by user id: the
    /// transaction owns positions head - Count + 1 .. head. Like the conversations' counters, each row stays
    /// locked until commit on PostgreSQL (so positions follow commit order), and rows are taken in id order so
    /// that two writers never wait for each other crosswise.
    /// </summary>
    public static async Task<Dictionary<long, long>> AdvanceHeadsAsync(MessagingDbContext db, IEnumerable<HeadAdvance> rows, CancellationToken cancellationToken)
    {
        var result = new Dictionary<long, long>();
        await RunAsync(db, rows.OrderBy(r => r.UserId).ToList(),
            $"INSERT INTO {Table<StreamHead>(db)} AS h (user_id, position) VALUES ",
            static (r, b) =>
            {
                b.Int(r.UserId);
                b.Int(r.Count);
            },
            columns: 2,
            " ON CONFLICT (user_id) DO UPDATE SET position = h.position + excluded.position RETURNING CAST(user_id AS TEXT), position",
            (userId, head, _) => result[long.Parse(userId, System.Globalization.CultureInfo.InvariantCulture)] = head,
            cancellationToken);
        return result;
    }

    /// <summary>Inserts stream events (their positions were taken by <see cref="AdvanceHeadsAsync"/> in the same transaction).</summary>
    public static Task InsertStreamEventsAsync(MessagingDbContext db, IReadOnlyList<StreamEvent> rows, CancellationToken cancellationToken) =>
        RunAsync(db, rows,
            $"INSERT INTO {Table<StreamEvent>(db)} (user_id, position, event_id, from_user_id, content, created_at) VALUES ",
            static (e, b) =>
            {
                b.Int(e.UserId);
                b.Int(e.Position);
                b.Uuid(e.EventId);
                b.Int(e.FromUserId);
                b.Text(e.Content);
                b.Int(e.CreatedAtMs);
            },
            columns: 6,
            tail: "",
            returned: null,
            cancellationToken);

    /// <summary>Inserts stream entries (their positions were taken by <see cref="AdvanceHeadsAsync"/> in the same transaction).</summary>
    public static Task InsertStreamEntriesAsync(MessagingDbContext db, IReadOnlyList<StreamEntry> rows, CancellationToken cancellationToken) =>
        RunAsync(db, rows,
            $"INSERT INTO {Table<StreamEntry>(db)} (user_id, position, conversation_id, seq_from, seq_to, created_at) VALUES ",
            static (e, b) =>
            {
                b.Int(e.UserId);
                b.Int(e.Position);
                b.Text(e.ConversationId);
                b.Int(e.SeqFrom);
                b.Int(e.SeqTo);
                b.Int(e.CreatedAtMs);
            },
            columns: 6,
            tail: "",
            returned: null,
            cancellationToken);

    public sealed record Pruned(string ConversationId, long ThroughSeq);

    /// <summary>
    /// Raises conversations' pruned_through_seq (never lowers it), in id order like the send path, so that
    /// retention and a send into the same conversation never wait for each other crosswise.
    /// </summary>
    public static Task RaisePrunedAsync(MessagingDbContext db, IEnumerable<Pruned> rows, CancellationToken cancellationToken) =>
        RunAsync(db, rows.OrderBy(r => r.ConversationId, StringComparer.Ordinal).ToList(),
            $"UPDATE {Table<Conversation>(db)} AS c SET pruned_through_seq = v.column2 FROM (VALUES ",
            static (r, b) =>
            {
                b.Text(r.ConversationId);
                b.Int(r.ThroughSeq);
            },
            columns: 2,
            ") AS v WHERE c.id = v.column1 AND c.pruned_through_seq < v.column2",
            returned: null,
            cancellationToken);

    /// <summary>Sets a row's values, column by column, as the statement's next parameters.</summary>
    internal interface IRowBinder
    {
        void Int(long value);

        void Int(int value);

        void Text(string? value);

        /// <summary>A uuid on PostgreSQL; on SQLite the upper-case text EF Core stores a Guid as.</summary>
        void Uuid(Guid value);
    }

    /// <summary>
    /// Runs <c>head (row) tail</c> for each row. PostgreSQL: many rows per statement (one round trip for
    /// hundreds), through ADO.NET. SQLite: one row per run of a statement prepared once, bound and stepped
    /// through SQLitePCL directly: in process a run takes microseconds, and Microsoft.Data.Sqlite's binding
    /// (a boxed value and a binder object per parameter per run) was a fifth of the server's garbage at
    /// 10,000 msg/s. <paramref name="returned"/> gets each returned (text, integer[, integer]) row (0 for a third column the statement does not return).
    /// </summary>
    private static Task RunAsync<T>(MessagingDbContext db, IReadOnlyList<T> rows, string head, Action<T, IRowBinder> bind, int columns,
        string tail, Action<string, long, long>? returned, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
            return Task.CompletedTask;
        if (db.Database.GetDbConnection() is SqliteConnection sqlite)
        {
            RequireTransaction(db);
            RunSqlite(sqlite, rows, head, bind, columns, tail, returned);
            return Task.CompletedTask;
        }
        return RunCommandsAsync(db, rows, head, bind, columns, tail, returned, cancellationToken);
    }

    private static void RunSqlite<T>(SqliteConnection connection, IReadOnlyList<T> rows, string head, Action<T, IRowBinder> bind, int columns,
        string tail, Action<string, long, long>? returned)
    {
        var handle = connection.Handle ?? throw new InvalidOperationException("the SQLite connection is not open");
        var sql = new StringBuilder(head).Append('(');
        for (var column = 0; column < columns; column++)
            sql.Append(column == 0 ? "?" : ", ?");
        sql.Append(')').Append(tail);
        Check(raw.sqlite3_prepare_v2(handle, sql.ToString(), out var statement), handle);
        using (statement)
        {
            var binder = new SqliteRowBinder(statement, handle);
            foreach (var row in rows)
            {
                binder.Next();
                bind(row, binder);
                BoundAll(binder.Bound, columns);
                int rc;
                while ((rc = raw.sqlite3_step(statement)) == raw.SQLITE_ROW)
                    returned?.Invoke(raw.sqlite3_column_text(statement, 0).utf8_to_string(), raw.sqlite3_column_int64(statement, 1),
                        raw.sqlite3_column_count(statement) > 2 ? raw.sqlite3_column_int64(statement, 2) : 0);
                if (rc != raw.SQLITE_DONE)
                    SqliteException.ThrowExceptionForRC(rc, handle); // the statement is finalized on the way out
                Check(raw.sqlite3_reset(statement), handle);
            }
        }
    }

    private static void BoundAll(int bound, int columns)
    {
        if (bound != columns)
            throw new InvalidOperationException($"a row bound {bound} values for {columns} columns");
    }

    private static void Check(int rc, sqlite3 handle)
    {
        if (rc != raw.SQLITE_OK)
            SqliteException.ThrowExceptionForRC(rc, handle);
    }

    private sealed class SqliteRowBinder(sqlite3_stmt statement, sqlite3 handle) : IRowBinder
    {
        private int _index;

        public int Bound => _index;

        public void Next() => _index = 0;

        public void Int(long value) => Check(raw.sqlite3_bind_int64(statement, ++_index, value), handle);

        public void Int(int value) => Check(raw.sqlite3_bind_int(statement, ++_index, value), handle);

        public void Text(string? value) =>
            Check(value is null ? raw.sqlite3_bind_null(statement, ++_index) : raw.sqlite3_bind_text(statement, ++_index, value), handle);

        public void Uuid(Guid value) => Text(value.ToString().ToUpperInvariant());
    }

    private sealed class CommandRowBinder(DbCommand command) : IRowBinder
    {
        private int _index;
        private int _first;

        public int Bound => _index - _first;

        public void Next(int first) => _index = _first = first;

        public void Int(long value) => command.Parameters[_index++].Value = value;

        public void Int(int value) => command.Parameters[_index++].Value = value;

        public void Text(string? value) => command.Parameters[_index++].Value = (object?)value ?? DBNull.Value;

        public void Uuid(Guid value) => command.Parameters[_index++].Value = value;
    }

    /// <summary>Runs <c>head (row), (row), ... tail</c> over the rows, reusing one command while the row count stays the same.</summary>
    private static async Task RunCommandsAsync<T>(MessagingDbContext db, IReadOnlyList<T> rows, string head, Action<T, IRowBinder> bind, int columns,
        string tail, Action<string, long, long>? returned, CancellationToken cancellationToken)
    {
        var perStatement = Math.Max(1, 4000 / columns);
        DbCommand? command = null;
        try
        {
            for (var start = 0; start < rows.Count; start += perStatement)
            {
                var count = Math.Min(perStatement, rows.Count - start);
                if (command is null || command.Parameters.Count != count * columns)
                {
                    if (command is not null)
                        await command.DisposeAsync();
                    command = Command(db, head, tail, count, columns);
                }
                var binder = new CommandRowBinder(command);
                for (var row = 0; row < count; row++)
                {
                    binder.Next(row * columns);
                    bind(rows[start + row], binder);
                    BoundAll(binder.Bound, columns);
                }
                if (returned is null)
                {
                    await command.ExecuteNonQueryAsync(cancellationToken);
                    continue;
                }
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                    returned(reader.GetString(0), reader.GetInt64(1), reader.FieldCount > 2 ? Convert.ToInt64(reader.GetValue(2), System.Globalization.CultureInfo.InvariantCulture) : 0);
            }
        }
        finally
        {
            if (command is not null)
                await command.DisposeAsync();
        }
    }

    private static void RequireTransaction(MessagingDbContext db)
    {
        if (db.Database.CurrentTransaction is null)
            throw new InvalidOperationException("the send path's writes run inside the caller's transaction");
    }

    private static DbCommand Command(MessagingDbContext db, string head, string tail, int rows, int columns)
    {
        var command = db.Database.GetDbConnection().CreateCommand();
        RequireTransaction(db);
        command.Transaction = db.Database.CurrentTransaction!.GetDbTransaction();
        var sql = new StringBuilder(head.Length + tail.Length + rows * columns * 8).Append(head);
        for (var row = 0; row < rows; row++)
        {
            sql.Append(row == 0 ? "(" : ", (");
            for (var column = 0; column < columns; column++)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = "@p" + command.Parameters.Count;
                command.Parameters.Add(parameter);
                sql.Append(column == 0 ? "" : ", ").Append(parameter.ParameterName);
            }
            sql.Append(')');
        }
        command.CommandText = sql.Append(tail).ToString();
        return command;
    }

    private static string Table<T>(MessagingDbContext db)
    {
        var entity = db.Model.FindEntityType(typeof(T)) ?? throw new InvalidOperationException($"{typeof(T).Name} is not in the model");
        var name = entity.GetTableName()!;
        return entity.GetSchema() is { } schema ? $"\"{schema}\".\"{name}\"" : $"\"{name}\"";
    }
}
