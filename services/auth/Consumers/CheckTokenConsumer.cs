using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts.Auth;
using MassTransit;

namespace EasyIm.Auth.Consumers;

public sealed class CheckTokenConsumer(AuthDbContext db, TokenService tokens) : IConsumer<CheckToken>
{
    public async Task Consume(ConsumeContext<CheckToken> context)
    {
        if (await tokens.AuthenticateAsync(db, context.Message.Token, grantType: null, context.CancellationToken) is not var (user, claims))
        {
            await context.RespondAsync(Sessions.BadToken);
            return;
        }
        await context.RespondAsync(new TokenChecked(user.Id, claims.GrantType, tokens.SecondsLeft(claims)));
    }
}
