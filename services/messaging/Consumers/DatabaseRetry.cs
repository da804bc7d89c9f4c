using System.Data.Common;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// The retry policy of consumers that write: a unique-key race, a PostgreSQL deadlock or a busy SQLite
/// file resolves itself when the message is consumed again a moment later. Each consumer is written so
/// that running it again is safe (dedupe, monotonic cursors, idempotent projections).
/// </summary>
internal static class DatabaseRetry
{
    public static void Configure(IRetryConfigurator retry)
    {
        retry.Handle<DbUpdateException>();
        retry.Handle<DbException>();
        retry.Intervals(10, 50, 100, 250, 500, 1000, 2000);
    }
}
