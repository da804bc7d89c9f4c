using EasyIm.Hosting.Database;
using MassTransit;

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
        // Not an error the database gives for the data itself: that one fails again however often it runs.
        retry.Handle<Exception>(StoreErrors.IsRetryable);
        retry.Intervals(10, 50, 100, 250, 500, 1000, 2000);
    }
}
