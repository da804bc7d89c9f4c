using EasyIm.Contracts.Auth;
using EasyIm.Gateway.Connections;
using EasyIm.Hosting.Bus;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Delivery;

/// <summary>
/// Revocations reach a gateway as events on its temporary queue (<see cref="Consumers.UserTokensRevokedConsumer"/>,
/// <see cref="Consumers.UserSessionRevokedConsumer"/>); while the gateway is away from the broker that queue is
/// gone, and a logout meanwhile would leave its connections open. So each time the gateway's endpoint is ready
/// again after the first time, it asks auth, in one request per <see cref="CheckSessions.MaxSessions"/>
/// connections, which of its connections' sessions were revoked, and closes those (NOTIFY 401). Revocations
/// after the endpoint is ready arrive as events again, so nothing falls between the two.
/// </summary>
public sealed class RecheckSessionsAfterReconnect(
    GatewayIdentity gateway,
    ConnectionRegistry registry,
    IServiceProvider services,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<RecheckSessionsAfterReconnect> logger) : IReceiveEndpointObserver
{
    public const string Reason = "the token was revoked (logout, secret reset or a reused refresh token) while this gateway was away from the bus; log in again";
    /// <summary>How long the gateway keeps asking auth (which may still be reconnecting itself) before it gives up on one round.</summary>
    public static readonly TimeSpan GiveUpAfter = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(2);
    private int _ready;

    public Task Ready(ReceiveEndpointReady ready)
    {
        if (!ready.InputAddress.AbsolutePath.EndsWith("/" + gateway.EndpointName, StringComparison.Ordinal))
            return Task.CompletedTask;
        if (Interlocked.Increment(ref _ready) == 1)
            return Task.CompletedTask;
        _ = Task.Run(() => RecheckAsync(lifetime.ApplicationStopping));
        return Task.CompletedTask;
    }

    /// <summary>Asks auth about every authenticated connection; closes the revoked ones. Returns how many it closed.</summary>
    public async Task<int> RecheckAsync(CancellationToken cancellationToken)
    {
        var connections = registry.Open.Where(c => c.Session is not null && !c.IsClosing).ToList();
        logger.LogWarning("Gateway {GatewayId} is consuming again after a broker fault: checking the sessions of its {Count} connections with auth",
            gateway.Id, connections.Count);
        var client = services.GetRequiredService<IBus>().CreateRequestClient<CheckSessions>(BusSetup.RequestTimeout);
        var closed = 0;
        foreach (var chunk in connections.Chunk(CheckSessions.MaxSessions))
        {
            // The grant each was asked about: a connection renewed meanwhile stands on a token checked since.
            var asked = chunk.Select(c => (Connection: c, Grant: c.Session!.Grant)).ToList();
            var request = new CheckSessions([.. asked.Select(a => new LiveSession(a.Connection.UserId, a.Grant.SessionId, a.Grant.TokenVersion))]);
            var answer = await AskAsync(client, request, cancellationToken);
            if (answer is null)
                continue;
            var revoked = answer.Revoked.ToHashSet();
            foreach (var (connection, grant) in asked)
            {
                if (!revoked.Contains(new LiveSession(connection.UserId, grant.SessionId, grant.TokenVersion)) || !ReferenceEquals(connection.Session!.Grant, grant))
                    continue;
                logger.LogInformation("Closing connection {ConnectionId} of user {UserId}: its token was revoked while the gateway was away from the bus",
                    connection.Id, connection.UserId);
                connection.Close(401, Reason);
                closed++;
            }
        }
        logger.LogInformation("Gateway {GatewayId} checked its connections' sessions after a broker fault: {Closed} closed", gateway.Id, closed);
        return closed;
    }

    private async Task<SessionsChecked?> AskAsync(IRequestClient<CheckSessions> client, CheckSessions request, CancellationToken cancellationToken)
    {
        var until = time.GetUtcNow() + GiveUpAfter;
        while (true)
        {
            try
            {
                return (await client.GetResponse<SessionsChecked>(request, cancellationToken)).Message;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Auth may be reconnecting too, or the broker went away again (then this runs again when it is back).
                if (time.GetUtcNow() >= until)
                {
                    logger.LogError(ex, "Auth did not answer which sessions were revoked for {GiveUpAfter}; {Count} connections stay unchecked",
                        GiveUpAfter, request.Sessions.Count);
                    return null;
                }
                logger.LogWarning(ex, "Could not ask auth which sessions were revoked; trying again");
                await Task.Delay(RetryEvery, time, cancellationToken);
            }
        }
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;
    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;
    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;
}
