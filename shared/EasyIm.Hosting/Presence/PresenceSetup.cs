using EasyIm.Contracts.Gateway;
using EasyIm.Hosting.Outbox;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EasyIm.Hosting.Presence;

public static class PresenceSetup
{
    /// <summary>
    /// Presence for a service that pushes to users (not messaging, which keeps its own with its replay log): the
    /// table, <see cref="GatewayPushes"/>, and the outbox's <see cref="PushToUsers"/> delivered through it. The bus
    /// side is <see cref="AddTrackGatewayPresence"/>.
    /// </summary>
    public static IServiceCollection AddGatewayPresence(this IServiceCollection services, IConfiguration? configuration = null)
    {
        services.TryAddSingleton(configuration is null ? new PresenceOptions() : PresenceOptions.Read(configuration));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<PresenceTable>();
        services.TryAddSingleton<GatewayPushes>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOutboxDelivery, PushToUsersDelivery>());
        return services;
    }

    /// <summary>The consumer that keeps the table: a temporary queue per process (each needs every event), one message at a time.</summary>
    public static void AddTrackGatewayPresence(IBusRegistrationConfigurator bus)
    {
        var instance = Guid.NewGuid().ToString("N")[..12];
        bus.AddConsumer<TrackGatewayPresenceConsumer>().Endpoint(e =>
        {
            e.InstanceId = instance;
            e.Temporary = true;
            e.ConcurrentMessageLimit = 1;
        });
    }

    private sealed class PushToUsersDelivery(GatewayPushes pushes) : IOutboxDelivery
    {
        public async ValueTask<bool> TryDeliverAsync(object message, IPublishEndpoint publisher, CancellationToken cancellationToken)
        {
            if (message is not PushToUsers push)
                return false;
            await pushes.DeliverAsync(push, publisher, cancellationToken);
            return true;
        }
    }
}
