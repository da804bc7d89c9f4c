using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts;
using EasyIm.Contracts.Auth;
using MassTransit;

namespace EasyIm.Auth.Consumers;

/// <summary>
/// A refresh token buys a new access token (or a new refresh token, by <c>grant_type</c>).
/// With <c>reset_secret</c> the user's token version moves first, so every token issued
/// before, the presented refresh token included, stops working.
/// </summary>
public sealed class RefreshTokenConsumer(AuthDbContext db, TokenService tokens) : IConsumer<RefreshToken>
{
    public async Task Consume(ConsumeContext<RefreshToken> context)
    {
        var (grantType, token, resetSecret) = context.Message;
        if (grantType is not (TokenService.AccessGrant or TokenService.RefreshGrant))
        {
            await context.RespondAsync(new RequestRejected(400, "grant_type must be access_token or refresh_token", "grant_type"));
            return;
        }
        if (await tokens.AuthenticateAsync(db, token, TokenService.RefreshGrant, context.CancellationToken) is not var (user, _))
        {
            await context.RespondAsync(new RequestRejected(401, "refresh_token is invalid or expired", "refresh_token"));
            return;
        }
        if (resetSecret)
        {
            user.TokenVersion++;
            await db.SaveChangesAsync(context.CancellationToken);
            await context.Publish(new UserTokensRevoked(user.Id, user.TokenVersion));
        }
        await context.RespondAsync(new TokenRefreshed(user.Id, tokens.Issue(user, grantType),
            (long)TokenService.Lifetime(grantType).TotalSeconds, grantType));
    }
}
