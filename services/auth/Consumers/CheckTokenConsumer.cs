using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts.Auth;
using MassTransit;

namespace EasyIm.Auth.Consumers;

/// <summary>Is a token live, and for how long? A refresh token is live only while it is its session's current one.</summary>
public sealed class CheckTokenConsumer(AuthDbContext db, TokenService tokens, SessionTokens sessions) : IConsumer<CheckToken>
{
    public async Task Consume(ConsumeContext<CheckToken> context)
    {
        var token = context.Message.Token;
        if (await tokens.AuthenticateAsync(db, token, grantType: null, context.CancellationToken) is not var (user, claims)
            || (claims.GrantType == TokenService.RefreshGrant && !await sessions.IsCurrentAsync(claims, token, context.CancellationToken)))
        {
            await context.RespondAsync(Sessions.BadToken);
            return;
        }
        await context.RespondAsync(new TokenChecked(user.Id, claims.GrantType, tokens.SecondsLeft(claims)));
    }
}
