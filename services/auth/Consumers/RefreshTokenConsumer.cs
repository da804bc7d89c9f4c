using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts;
using EasyIm.Contracts.Auth;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace EasyIm.Auth.Consumers;

/// <summary>
/// A refresh rotates the session's refresh token: a new access and refresh token, the presented one
/// dead (see <see cref="SessionTokens"/>). A token replaced before and presented again revokes its
/// session, and the gateways close that session's connections. With <c>reset_secret</c> the user's
/// token version moves in the same step, so every token issued before, on every device, stops working;
/// only the holder of a session's current refresh token can do that.
/// </summary>
public sealed class RefreshTokenConsumer(AuthDbContext db, TokenService tokens, SessionTokens sessions, ILogger<RefreshTokenConsumer> logger)
    : IConsumer<RefreshToken>
{
    public async Task Consume(ConsumeContext<RefreshToken> context)
    {
        var (grantType, token, resetSecret) = context.Message;
        if (grantType is not (TokenService.AccessGrant or TokenService.RefreshGrant))
        {
            await context.RespondAsync(new RequestRejected(400, "grant_type must be access_token or refresh_token", "grant_type"));
            return;
        }
        if (await tokens.AuthenticateAsync(db, token, TokenService.RefreshGrant, context.CancellationToken) is not var (user, claims))
        {
            await context.RespondAsync(new RequestRejected(401, "refresh_token is invalid, expired or revoked", "refresh_token"));
            return;
        }
        switch (await sessions.RotateAsync(user, claims, token, resetSecret, context.CancellationToken))
        {
            case RefreshOutcome.Rotated(var issued):
                if (resetSecret)
                    await context.Publish(new UserTokensRevoked(user.Id, user.TokenVersion));
                await context.RespondAsync(new TokenRefreshed(user.Id, grantType,
                    issued.AccessToken, (long)tokens.AccessLifetime.TotalSeconds, issued.RefreshToken, (long)tokens.RefreshLifetime.TotalSeconds));
                return;
            case RefreshOutcome.Reused(var sessionId):
                logger.LogWarning("A replaced refresh token of user {UserId} was presented again: revoking session {SessionId}", user.Id, sessionId);
                await context.Publish(new UserSessionRevoked(user.Id, sessionId));
                await context.RespondAsync(new RequestRejected(401,
                    "refresh_token was already used: every token of this session is revoked; log in again", "refresh_token"));
                return;
            default:
                await context.RespondAsync(new RequestRejected(401, "refresh_token is invalid, expired or revoked", "refresh_token"));
                return;
        }
    }
}
