using EasyIm.Contracts.Auth;
using EasyIm.Gateway.Connections;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Consumers;

/// <summary>Logout or secret reset: the user's connections opened with a now revoked token are told (NOTIFY 401) and closed.</summary>
public sealed class UserTokensRevokedConsumer(ConnectionRegistry registry, ILogger<UserTokensRevokedConsumer> logger) : IConsumer<UserTokensRevoked>
{
    public Task Consume(ConsumeContext<UserTokensRevoked> context)
    {
        var (userId, version) = context.Message;
        foreach (var connection in registry.Revoke(userId, version))
        {
            logger.LogInformation("Closing connection {ConnectionId} of user {UserId}: its token was revoked", connection.Id, userId);
            connection.Close(401, "the token was revoked (logout or secret reset); log in again");
        }
        return Task.CompletedTask;
    }
}
