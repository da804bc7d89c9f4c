using EasyIm.Contracts.Auth;
using EasyIm.Gateway.Connections;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Consumers;

/// <summary>A replaced refresh token was used again: the connections standing on a token of that login session are told (NOTIFY 401) and closed.</summary>
public sealed class UserSessionRevokedConsumer(ConnectionRegistry registry, ILogger<UserSessionRevokedConsumer> logger) : IConsumer<UserSessionRevoked>
{
    public const string Reason = "the session was revoked: its refresh token was used twice, so someone else may hold it; log in again";

    public Task Consume(ConsumeContext<UserSessionRevoked> context)
    {
        var (userId, sessionId) = context.Message;
        foreach (var connection in registry.RevokeSession(userId, sessionId))
        {
            logger.LogWarning("Closing connection {ConnectionId} of user {UserId}: its session {SessionId} was revoked", connection.Id, userId, sessionId);
            connection.Close(401, Reason);
        }
        return Task.CompletedTask;
    }
}
