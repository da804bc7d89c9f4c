using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts.Auth;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Auth.Consumers;

/// <summary>
/// Checks a password under <see cref="LoginThrottle"/>: one check of an account at a time, refused
/// (429) once the account's wrong passwords are spent (the right one too), refused (503) when the
/// process's hash queue is full. An unknown account is checked, counted and refused exactly like a
/// known one with a wrong password.
/// </summary>
public sealed class LoginUserConsumer(AuthDbContext db, PasswordHashing passwords, TokenService tokens, SessionTokens sessions, LoginThrottle throttle) : IConsumer<LoginUser>
{
    public async Task Consume(ConsumeContext<LoginUser> context)
    {
        var (account, password) = context.Message;
        // Malformed input can match no account and costs nothing to refuse.
        if (AccountRules.CheckAccount(account) is not null || AccountRules.CheckPassword(password) is not null)
        {
            await context.RespondAsync(Sessions.BadCredentials);
            return;
        }
        var key = AccountRules.Key(account);
        using var turn = await throttle.WaitForTurnAsync(key, context.CancellationToken);
        if (!turn.IsAcquired)
        {
            await context.RespondAsync(Sessions.AccountBusy);
            return;
        }
        if (!throttle.MayTry(key))
        {
            await context.RespondAsync(Sessions.TooManyFailures(throttle.RetryAfterSeconds));
            return;
        }

        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.AccountKey == key, context.CancellationToken);
        // The same work whether or not the account exists: no timing oracle.
        var (ran, verified) = await throttle.TryHashAsync(
            () => user is null ? passwords.VerifyNothing(password) : passwords.Verify(user.PasswordHash, password), context.CancellationToken);
        if (!ran)
        {
            await context.RespondAsync(Sessions.Busy);
            return;
        }
        if (user is null || !verified)
        {
            throttle.CountFailure(key);
            await context.RespondAsync(Sessions.BadCredentials);
            return;
        }
        await context.RespondAsync(await Sessions.StartAsync(sessions, tokens, user, context.CancellationToken));
    }
}
