using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts.Auth;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Auth.Consumers;

public sealed class LoginUserConsumer(AuthDbContext db, PasswordHashing passwords, TokenService tokens, SessionTokens sessions) : IConsumer<LoginUser>
{
    public async Task Consume(ConsumeContext<LoginUser> context)
    {
        var (account, password) = context.Message;
        if (AccountRules.CheckAccount(account) is not null || AccountRules.CheckPassword(password) is not null)
        {
            await context.RespondAsync(Sessions.BadCredentials);
            return;
        }
        var key = AccountRules.Key(account);
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.AccountKey == key, context.CancellationToken);
        if (user is null)
        {
            passwords.VerifyNothing(password);
            await context.RespondAsync(Sessions.BadCredentials);
            return;
        }
        if (!passwords.Verify(user.PasswordHash, password))
        {
            await context.RespondAsync(Sessions.BadCredentials);
            return;
        }
        await context.RespondAsync(await Sessions.StartAsync(sessions, tokens, user, context.CancellationToken));
    }
}
