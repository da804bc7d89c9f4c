using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts;
using EasyIm.Contracts.Auth;
using MassTransit;

namespace EasyIm.Auth.Consumers;

/// <summary>A gateway's handshake, connection renewal or API call: is this a live access token, and (when named) is it this user's?</summary>
public sealed class ValidateAccessTokenConsumer(AuthDbContext db, TokenService tokens) : IConsumer<ValidateAccessToken>
{
    public async Task Consume(ConsumeContext<ValidateAccessToken> context)
    {
        var (userId, token) = context.Message;
        if (await tokens.AuthenticateAsync(db, token, TokenService.AccessGrant, context.CancellationToken) is not var (user, claims)
            || (userId is { } claimed && user.Id != claimed))
        {
            await context.RespondAsync(new RequestRejected(401, "access_token is invalid or expired, or not this user's"));
            return;
        }
        await context.RespondAsync(new AccessTokenValidated(user.Id, user.Account, claims.TokenVersion, claims.ExpiresAt, claims.SessionId));
    }
}
