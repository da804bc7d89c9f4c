using MassTransit;

namespace EasyIm.Gateway.Consumers;

/// <summary>
/// This gateway's own receive endpoint, <c>gateway-{id}</c>: what is published reaches every
/// gateway (each has its endpoint bound to the message's exchange), and what a service sends to
/// <c>exchange:gateway-{id}?temporary=true</c> reaches this one only. Temporary: the queue goes with the process.
/// One message at a time, so pushes are written in the order they were sent.
/// </summary>
public abstract class GatewayEndpointDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    protected GatewayEndpointDefinition(GatewayIdentity gateway)
    {
        EndpointName = gateway.EndpointName;
        ConcurrentMessageLimit = 1;
        Endpoint(e =>
        {
            e.Name = gateway.EndpointName;
            e.Temporary = true;
            e.ConcurrentMessageLimit = 1;
        });
    }
}

public sealed class PushToUsersConsumerDefinition(GatewayIdentity gateway) : GatewayEndpointDefinition<PushToUsersConsumer>(gateway);

public sealed class UserTokensRevokedConsumerDefinition(GatewayIdentity gateway) : GatewayEndpointDefinition<UserTokensRevokedConsumer>(gateway);

public sealed class UserSessionRevokedConsumerDefinition(GatewayIdentity gateway) : GatewayEndpointDefinition<UserSessionRevokedConsumer>(gateway);

public sealed class ReportGatewayPresenceConsumerDefinition(GatewayIdentity gateway) : GatewayEndpointDefinition<ReportGatewayPresenceConsumer>(gateway);
