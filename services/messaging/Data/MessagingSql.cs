using System.Data.Common;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace EasyIm.Messaging.Data;

/// <summary>
/// The send path's writes, as statements EF cannot express (upserts that move counters atomically) or
/// would issue row by row. The SQL is the same on SQLite (3.35+) and PostgreSQL; only the table names
/// differ (PostgreSQL's carry the service's schema), and how many rows one statement carries (see
/// <see cref="RowsPerStatement"/>).
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
    public static async Task<Dictionary<string, long>> AdvanceConversationsAsync(
        MessagingDbContext db, IEnumerable<ConversationAdvance> rows, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        await RunAsync(db, rows.OrderBy(r => r.Id, StringComparer.Ordinal).ToList(),
            $"INSERT INTO {Table<Conversation>(db)} AS c (id, kind, last_seq, user_a, user_b, group_id, last_message_id, last_sent_at) VALUES ",
            (r, c) => c switch
            {
                0 => r.Id,
                1 => r.Kind,
                2 => r.Count,
                3 => r.UserA,
                4 => r.UserB,
                5 => r.GroupId,
                6 => r.LastMessageId,
                _ => r.LastSentAtMs,
            },
            columns: 8,
            " ON CONFLICT (id) DO UPDATE SET last_seq = c.last_seq + excluded.last_seq, " +
            "last_message_id = excluded.last_message_id, last_sent_at = excluded.last_sent_at RETURNING id, last_seq",
            async (reader, ct) =>
            {
                while (await reader.ReadAsync(ct))
                    result[reader.GetString(0)] = reader.GetInt64(1);
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
            (r, c) => c switch
            {
                0 => r.UserId,
                1 => r.ConversationId,
                2 => r.ArrivedSeq,
                _ => r.ReadSeq,
            },
            columns: 4,
            " ON CONFLICT (user_id, conversation_id) DO UPDATE SET " +
            "arrived_seq = CASE WHEN excluded.arrived_seq > k.arrived_seq THEN excluded.arrived_seq ELSE k.arrived_seq END, " +
            "read_seq = CASE WHEN excluded.read_seq > k.read_seq THEN excluded.read_seq ELSE k.read_seq END",
            read: null,
            cancellationToken);

    /// <summary>
    /// Inserts the messages. No ON CONFLICT: the caller deduped, and a duplicate that slipped past (a
    /// concurrent resend through another replica) fails the transaction, whose retry then finds it.
    /// </summary>
    public static Task InsertMessagesAsync(MessagingDbContext db, IReadOnlyList<Message> rows, CancellationToken cancellationToken) =>
        RunAsync(db, rows,
            $"INSERT INTO {Table<Message>(db)} (id, conversation_id, conversation_seq, sender_id, to_id, client_msg_id, chat_type, msg_type, content, sent_at, status) VALUES ",
            (m, c) => c switch
            {
                0 => m.Id,
                1 => m.ConversationId,
                2 => m.ConversationSeq,
                3 => m.SenderId,
                4 => m.ToId,
                5 => m.ClientMsgId,
                6 => m.ChatType,
                7 => m.MsgType,
                8 => m.Content,
                9 => m.SentAtMs,
                _ => m.Status,
            },
            columns: 11,
            tail: "",
            read: null,
            cancellationToken);

    /// <summary>
    /// Rows one statement carries. PostgreSQL: many (one round trip for hundreds of rows). SQLite: one,
    /// in a statement prepared once and run again for every row, which takes microseconds in process;
    /// a statement of many rows costs more there, as Microsoft.Data.Sqlite binds every parameter by name
    /// with a search through all of the statement's parameters (quadratic in their number).
    /// </summary>
    private static int RowsPerStatement(MessagingDbContext db, int columns) =>
        db.Database.IsSqlite() ? 1 : Math.Max(1, 4000 / columns);

    /// <summary>Runs <c>head (row), (row), ... tail</c> over the rows, reusing one command while the row count stays the same.</summary>
    private static async Task RunAsync<T>(MessagingDbContext db, IReadOnlyList<T> rows, string head, Func<T, int, object> value, int columns,
        string tail, Func<DbDataReader, CancellationToken, Task>? read, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
            return;
        var perStatement = RowsPerStatement(db, columns);
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
                for (var row = 0; row < count; row++)
                    for (var column = 0; column < columns; column++)
                        command.Parameters[row * columns + column].Value = value(rows[start + row], column);
                if (read is null)
                {
                    await command.ExecuteNonQueryAsync(cancellationToken);
                    continue;
                }
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                await read(reader, cancellationToken);
            }
        }
        finally
        {
            if (command is not null)
                await command.DisposeAsync();
        }
    }

    private static DbCommand Command(MessagingDbContext db, string head, string tail, int rows, int columns)
    {
        var command = db.Database.GetDbConnection().CreateCommand();
        command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException("the send path's writes run inside the caller's transaction");
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
