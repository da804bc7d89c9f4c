using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace EasyIm.Hosting.Database;

/// <summary>
/// Settings every SQLite connection needs, applied when it opens. <c>busy_timeout</c> makes a writer
/// that finds the file locked wait inside SQLite, retrying within milliseconds, instead of failing at
/// once into Microsoft.Data.Sqlite's own retry loop, which sleeps 150 ms between tries. Automatic
/// checkpoints are off: <see cref="SqliteCheckpointer"/> runs them in the background instead.
/// <c>journal_size_limit</c> is per connection and applies in the commit that starts a restarted log,
/// so every connection that may write has it: that commit cuts the file back to <see cref="SqliteWalBound.ShrinkBytes"/>.
/// </summary>
internal sealed class SqlitePragmas(string synchronous, SqliteWalBound bound) : DbConnectionInterceptor
{
    public const int BusyTimeoutMs = 5000;

    private readonly string _sql =
        $"PRAGMA busy_timeout = {BusyTimeoutMs}; PRAGMA synchronous = {synchronous}; PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {bound.ShrinkBytes};";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = _sql;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = _sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
