using System.Data.Common;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace EasyIm.Messaging.Data;

/// <summary>
/// The two statements EF cannot express: upserts that move counters atomically. The SQL is the
/// same on SQLite (3.35+) and PostgreSQL; only the table names differ (PostgreSQL's carry the
/// service's schema).
/// </summary>
internal static class MessagingSql
{
    /// <summary>Rows per statement: far below both providers' parameter limits.</summary>
    private const int Chunk = 200;

    /// <param name="Count">How many messages the batch adds to the conversation.</param>
    public sealed record ConversationAdvance(string Id, int Kind, long UserA, long UserB, long GroupId, long Count, long LastMessageId, long LastSentAtMs);

    public sealed record CursorRaise(long UserId, string ConversationId, long ArrivedSeq, long ReadSeq);

    /// <summary>
    /// Adds each row's Count to its conversation's last_seq (creating the conversation when new) and
    /// returns the new last_seq by conversation id: the batch owns seqs last_seq - Count + 1 .. last_seq.
    /// On PostgreSQL the update locks each row until the transaction ends, so concurrent batches into one
    /// conversation (other consumers, other replicas) take their ranges one after the other; rows are taken
    /// in id order so that two batches never wait for each other crosswise. On SQLite the transaction
    /// already holds the database's write lock.
    /// </summary>
    public static async Task<Dictionary<string, long>> AdvanceConversationsAsync(
        MessagingDbContext db, IEnumerable<ConversationAdvance> rows, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        var table = Table<Conversation>(db);
        foreach (var chunk in rows.OrderBy(r => r.Id, StringComparer.Ordinal).Chunk(Chunk))
        {
            await using var command = Command(db);
            var sql = new StringBuilder($"INSERT INTO {table} AS c (id, kind, last_seq, user_a, user_b, group_id, last_message_id, last_sent_at) VALUES ");
            for (var i = 0; i < chunk.Length; i++)
            {
                var r = chunk[i];
                sql.Append(i == 0 ? "" : ", ").Append('(')
                    .Append(Parameter(command, r.Id)).Append(", ")
                    .Append(Parameter(command, r.Kind)).Append(", ")
                    .Append(Parameter(command, r.Count)).Append(", ")
                    .Append(Parameter(command, r.UserA)).Append(", ")
                    .Append(Parameter(command, r.UserB)).Append(", ")
                    .Append(Parameter(command, r.GroupId)).Append(", ")
                    .Append(Parameter(command, r.LastMessageId)).Append(", ")
                    .Append(Parameter(command, r.LastSentAtMs)).Append(')');
            }
            sql.Append(" ON CONFLICT (id) DO UPDATE SET last_seq = c.last_seq + excluded.last_seq, ")
                .Append("last_message_id = excluded.last_message_id, last_sent_at = excluded.last_sent_at RETURNING id, last_seq");
            command.CommandText = sql.ToString();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                result[reader.GetString(0)] = reader.GetInt64(1);
        }
        return result;
    }

    /// <summary>
    /// Moves cursors forward to the given seqs (creating them when new), never backwards: a late or
    /// repeated receipt cannot undo a newer one, whatever order concurrent batches commit in.
    /// </summary>
    public static async Task RaiseCursorsAsync(MessagingDbContext db, IEnumerable<CursorRaise> rows, CancellationToken cancellationToken)
    {
        var table = Table<ConversationCursor>(db);
        var ordered = rows.OrderBy(r => r.UserId).ThenBy(r => r.ConversationId, StringComparer.Ordinal);
        foreach (var chunk in ordered.Chunk(Chunk))
        {
            await using var command = Command(db);
            var sql = new StringBuilder($"INSERT INTO {table} AS k (user_id, conversation_id, arrived_seq, read_seq) VALUES ");
            for (var i = 0; i < chunk.Length; i++)
            {
                var r = chunk[i];
                sql.Append(i == 0 ? "" : ", ").Append('(')
                    .Append(Parameter(command, r.UserId)).Append(", ")
                    .Append(Parameter(command, r.ConversationId)).Append(", ")
                    .Append(Parameter(command, r.ArrivedSeq)).Append(", ")
                    .Append(Parameter(command, r.ReadSeq)).Append(')');
            }
            sql.Append(" ON CONFLICT (user_id, conversation_id) DO UPDATE SET ")
                .Append("arrived_seq = CASE WHEN excluded.arrived_seq > k.arrived_seq THEN excluded.arrived_seq ELSE k.arrived_seq END, ")
                .Append("read_seq = CASE WHEN excluded.read_seq > k.read_seq THEN excluded.read_seq ELSE k.read_seq END");
            command.CommandText = sql.ToString();
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Inserts the messages with multi-row INSERTs (one per <see cref="MessageChunk"/> rows), not a statement
    /// per row as EF's SaveChanges does. No ON CONFLICT: the caller deduped, and a duplicate that slipped past
    /// (a concurrent resend through another replica) fails the transaction, whose retry then finds it.
    /// </summary>
    public static async Task InsertMessagesAsync(MessagingDbContext db, IReadOnlyList<Message> rows, CancellationToken cancellationToken)
    {
        var table = Table<Message>(db);
        foreach (var chunk in rows.Chunk(MessageChunk))
        {
            await using var command = Command(db);
            var sql = new StringBuilder(64 + chunk.Length * 120)
                .Append($"INSERT INTO {table} (id, conversation_id, conversation_seq, sender_id, to_id, client_msg_id, chat_type, msg_type, content, sent_at, status) VALUES ");
            for (var i = 0; i < chunk.Length; i++)
            {
                var m = chunk[i];
                sql.Append(i == 0 ? "(" : ", (")
                    .Append(Parameter(command, m.Id)).Append(", ")
                    .Append(Parameter(command, m.ConversationId)).Append(", ")
                    .Append(Parameter(command, m.ConversationSeq)).Append(", ")
                    .Append(Parameter(command, m.SenderId)).Append(", ")
                    .Append(Parameter(command, m.ToId)).Append(", ")
                    .Append(Parameter(command, m.ClientMsgId)).Append(", ")
                    .Append(Parameter(command, m.ChatType)).Append(", ")
                    .Append(Parameter(command, m.MsgType)).Append(", ")
                    .Append(Parameter(command, m.Content)).Append(", ")
                    .Append(Parameter(command, m.SentAtMs)).Append(", ")
                    .Append(Parameter(command, m.Status)).Append(')');
            }
            command.CommandText = sql.ToString();
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>Rows per message INSERT: 11 parameters each, far below both providers' limits.</summary>
    private const int MessageChunk = 500;

    private static DbCommand Command(MessagingDbContext db)
    {
        var command = db.Database.GetDbConnection().CreateCommand();
        command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException("counter upserts run inside the caller's transaction");
        return command;
    }

    private static string Parameter(DbCommand command, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@p" + command.Parameters.Count;
        parameter.Value = value;
        command.Parameters.Add(parameter);
        return parameter.ParameterName;
    }

    private static string Table<T>(MessagingDbContext db)
    {
        var entity = db.Model.FindEntityType(typeof(T)) ?? throw new InvalidOperationException($"{typeof(T).Name} is not in the model");
        var name = entity.GetTableName()!;
        return entity.GetSchema() is { } schema ? $"\"{schema}\".\"{name}\"" : $"\"{name}\"";
    }
}
