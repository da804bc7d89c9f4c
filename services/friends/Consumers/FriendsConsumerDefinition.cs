using EasyIm.Hosting.Database;
using MassTransit;

namespace EasyIm.Friends.Consumers;

/// <summary>
/// Every friends consumer runs again, in a new scope (a fresh DbContext), when the database said
/// no for a reason that may pass: a lost concurrency race (two changes to one group or one
/// request), a unique index hit by a racing writer, a busy SQLite file or a dropped connection.
/// The retry sees the new state and answers from it; the consumers are written so that running
/// one twice stores nothing twice.
/// </summary>
public sealed class FriendsConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer> where TConsumer : class, IConsumer
{
    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator, IRegistrationContext context)
    {
        // Only what may pass: a request the database refuses for its data fails once, at once, instead of five times.
        endpointConfigurator.UseMessageRetry(r =>
        {
            r.Handle<Exception>(StoreErrors.IsRetryable);
            r.Intervals(10, 50, 100, 250, 500);
        });
    }
}
