using System.Net.Sockets;
using EasyIm.Hosting.Database;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace EasyIm.UnitTests.Hosting;

public sealed class StoreErrorsTests
{
    private static PostgresException Postgres(string sqlState) => new("refused", "ERROR", "ERROR", sqlState);

    [Theory]
    [InlineData("22021", StoreErrorKind.Permanent)] // character_not_in_repertoire: U+0000 in text
    [InlineData("22001", StoreErrorKind.Permanent)] // string_data_right_truncation
    [InlineData("23514", StoreErrorKind.Permanent)] // check_violation
    [InlineData("23502", StoreErrorKind.Permanent)] // not_null_violation
    [InlineData("P0001", StoreErrorKind.Permanent)] // raise_exception (a trigger)
    [InlineData("42P01", StoreErrorKind.Permanent)] // undefined_table
    [InlineData("23505", StoreErrorKind.Duplicate)] // unique_violation
    [InlineData("40001", StoreErrorKind.Transient)] // serialization_failure
    [InlineData("40P01", StoreErrorKind.Transient)] // deadlock_detected
    [InlineData("55P03", StoreErrorKind.Transient)] // lock_not_available
    [InlineData("57P01", StoreErrorKind.Transient)] // admin_shutdown
    [InlineData("08006", StoreErrorKind.Transient)] // connection_failure
    [InlineData("53300", StoreErrorKind.Transient)] // too_many_connections
    public void PostgreSQL_errors_are_classified_by_their_SQLSTATE(string sqlState, StoreErrorKind expected)
    {
        Assert.Equal(expected, StoreErrors.Classify(Postgres(sqlState)));
        // As EF Core raises them from SaveChanges.
        Assert.Equal(expected, StoreErrors.Classify(new DbUpdateException("saving failed", Postgres(sqlState))));
    }

    [Theory]
    [InlineData(5, 5, StoreErrorKind.Transient)] // SQLITE_BUSY
    [InlineData(6, 6, StoreErrorKind.Transient)] // SQLITE_LOCKED
    [InlineData(10, 10, StoreErrorKind.Transient)] // SQLITE_IOERR
    [InlineData(13, 13, StoreErrorKind.Transient)] // SQLITE_FULL
    [InlineData(19, 2067, StoreErrorKind.Duplicate)] // SQLITE_CONSTRAINT_UNIQUE
    [InlineData(2067, 2067, StoreErrorKind.Duplicate)] // the same, raised as its extended code
    [InlineData(19, 1555, StoreErrorKind.Duplicate)] // SQLITE_CONSTRAINT_PRIMARYKEY
    [InlineData(19, 1811, StoreErrorKind.Permanent)] // SQLITE_CONSTRAINT_TRIGGER
    [InlineData(19, 275, StoreErrorKind.Permanent)] // SQLITE_CONSTRAINT_CHECK
    [InlineData(18, 18, StoreErrorKind.Permanent)] // SQLITE_TOOBIG
    [InlineData(20, 20, StoreErrorKind.Permanent)] // SQLITE_MISMATCH
    [InlineData(1, 1, StoreErrorKind.Permanent)] // SQLITE_ERROR
    public void SQLite_errors_are_classified_by_their_result_code(int code, int extended, StoreErrorKind expected)
    {
        Assert.Equal(expected, StoreErrors.Classify(new SqliteException("refused", code, extended)));
        Assert.Equal(expected, StoreErrors.Classify(new DbUpdateException("saving failed", new SqliteException("refused", code, extended))));
    }

    [Fact]
    public void A_lost_connection_a_timeout_and_a_concurrency_race_are_transient()
    {
        Assert.Equal(StoreErrorKind.Transient, StoreErrors.Classify(new NpgsqlException("connection lost", new IOException("reset"))));
        Assert.Equal(StoreErrorKind.Transient, StoreErrors.Classify(new NpgsqlException("connect failed", new SocketException((int)SocketError.ConnectionRefused))));
        Assert.Equal(StoreErrorKind.Transient, StoreErrors.Classify(new TimeoutException()));
        Assert.Equal(StoreErrorKind.Transient, StoreErrors.Classify(new InvalidOperationException("wrapped", new TimeoutException())));
        Assert.Equal(StoreErrorKind.Transient, StoreErrors.Classify(new DbUpdateConcurrencyException("another writer changed the row")));
    }

    [Fact]
    public void What_it_does_not_know_is_permanent_so_it_is_isolated_rather_than_retried_for_half_a_minute()
    {
        Assert.Equal(StoreErrorKind.Permanent, StoreErrors.Classify(new System.Text.EncoderFallbackException("unpaired surrogate")));
        Assert.Equal(StoreErrorKind.Permanent, StoreErrors.Classify(new ArgumentException("bad value")));
        Assert.Equal(StoreErrorKind.Permanent, StoreErrors.Classify(new InvalidOperationException("a row bound 3 values for 4 columns")));
        Assert.False(StoreErrors.IsRetryable(Postgres("22021")));
        Assert.True(StoreErrors.IsRetryable(Postgres("23505")));
        Assert.True(StoreErrors.IsRetryable(Postgres("40P01")));
    }
}
