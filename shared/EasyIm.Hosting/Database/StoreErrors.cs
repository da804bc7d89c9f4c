using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace EasyIm.Hosting.Database;

/// <summary>What a failed database call means for the work that made it.</summary>
public enum StoreErrorKind
{
    /// <summary>
    /// The database could not do it now (a lost connection, a restart, a deadlock, a serialization
    /// failure, a busy file, a timeout): the same work may succeed if tried again a moment later.
    /// </summary>
    Transient,

    /// <summary>A unique key was already taken: a resend of something stored, or a race with another writer. Look for the original, then try again.</summary>
    Duplicate,

    /// <summary>
    /// The database refused the data itself (a character it cannot store, a value out of range, a check or
    /// trigger, a string it cannot encode) or the statement: trying the same rows again fails again, so
    /// they must be set apart, never retried as they are.
    /// </summary>
    Permanent,
}

/// <summary>
/// Classifies database errors for both providers, so that every writer decides alike: retry what is
/// transient, dedupe what is a duplicate, and isolate what is permanent (see <see cref="RowIsolation"/>).
/// Anything it does not know is <see cref="StoreErrorKind.Permanent"/>: retrying an unknown error for
/// half a minute stalls every writer behind it, while isolating a transient one costs only a few extra
/// transactions before the same rows are tried again alone.
/// </summary>
public static class StoreErrors
{
    public static StoreErrorKind Classify(Exception exception)
    {
        for (var ex = exception; ex is not null; ex = ex.InnerException)
        {
            switch (ex)
            {
                case PostgresException pg:
                    return Postgres(pg.SqlState, pg.IsTransient);
                case NpgsqlException npgsql:
                    // No SQLSTATE: the connection or the protocol failed (I/O, a timeout, the server going away).
                    return npgsql.IsTransient || npgsql.InnerException is IOException or System.Net.Sockets.SocketException or TimeoutException
                        ? StoreErrorKind.Transient
                        : StoreErrorKind.Permanent;
                case SqliteException sqlite:
                    return Sqlite(sqlite.SqliteErrorCode, sqlite.SqliteExtendedErrorCode);
                case TimeoutException:
                    return StoreErrorKind.Transient;
                case DbUpdateConcurrencyException:
                    return StoreErrorKind.Transient; // another writer changed the row first: read it again and retry
                case DbUpdateException or InvalidOperationException or AggregateException when ex.InnerException is not null:
                    continue; // EF Core and the providers wrap the database's error
                case DbException db:
                    return db.IsTransient ? StoreErrorKind.Transient : StoreErrorKind.Permanent;
            }
        }
        return StoreErrorKind.Permanent;
    }

    /// <summary>Whether MassTransit's retry should consume the message again: transient errors and unique-key races (consumers re-read what the other writer stored).</summary>
    public static bool IsRetryable(Exception exception) => Classify(exception) is StoreErrorKind.Transient or StoreErrorKind.Duplicate;

    /// <summary>By SQLSTATE (PostgreSQL's appendix A): class 08 connection, 40 transaction rollback, 53 resources, 57 operator intervention, 58 system, 55P03 lock not available.</summary>
    internal static StoreErrorKind Postgres(string sqlState, bool isTransient)
    {
        if (sqlState == PostgresErrorCodes.UniqueViolation)
            return StoreErrorKind.Duplicate;
        if (isTransient || sqlState.Length == 5 && (sqlState.StartsWith("08", StringComparison.Ordinal) || sqlState.StartsWith("40", StringComparison.Ordinal)
                || sqlState.StartsWith("53", StringComparison.Ordinal) || sqlState.StartsWith("57", StringComparison.Ordinal)
                || sqlState.StartsWith("58", StringComparison.Ordinal) || sqlState == PostgresErrorCodes.LockNotAvailable))
            return StoreErrorKind.Transient;
        return StoreErrorKind.Permanent;
    }

    // SQLite result codes (sqlite.org/rescode.html).
    private const int SqliteBusy = 5, SqliteLocked = 6, SqliteNoMem = 7, SqliteInterrupt = 9, SqliteIoErr = 10, SqliteFull = 13,
        SqliteCantOpen = 14, SqliteProtocol = 15, SqliteConstraint = 19;
    private const int SqliteConstraintPrimaryKey = 1555, SqliteConstraintUnique = 2067;

    /// <param name="code">The result code as raised: the primary code, or an extended one where the connection asked for those.</param>
    internal static StoreErrorKind Sqlite(int code, int extendedCode)
    {
        var primary = code & 0xFF;
        if (primary == SqliteConstraint)
            return code is SqliteConstraintUnique or SqliteConstraintPrimaryKey || extendedCode is SqliteConstraintUnique or SqliteConstraintPrimaryKey
                ? StoreErrorKind.Duplicate
                : StoreErrorKind.Permanent;
        return primary is SqliteBusy or SqliteLocked or SqliteNoMem or SqliteInterrupt or SqliteIoErr or SqliteFull or SqliteCantOpen or SqliteProtocol
            ? StoreErrorKind.Transient
            : StoreErrorKind.Permanent;
    }
}
