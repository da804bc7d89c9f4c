using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts.Auth;
using MassTransit;

namespace EasyIm.Auth.Consumers;

/// <summary>Logout revokes every token of the user, on every device, and closes their live connections.</summary>
public sealed class LogoutUserConsumer(AuthDbContext db, TokenService tokens) : IConsumer<LogoutUser>
{
    public async Task Consume(ConsumeContext<LogoutUser> context)
    {
        if (await tokens.AuthenticateAsync(db, context.Message.AccessToken, TokenService.AccessGrant, context.CancellationToken) is not var (user, _))
        {
            await context.RespondAsync(Sessions.BadToken);
            return;
        }
        user.TokenVersion++;
        await db.SaveChangesAsync(context.CancellationToken);
        await context.Publish(new UserTokensRevoked(user.Id, user.TokenVersion));
        await context.RespondAsync(new UserLoggedOut(user.Id));
    }
}
