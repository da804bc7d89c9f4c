using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts;
using EasyIm.Contracts.Auth;
using EasyIm.Hosting.Ids;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.Auth.Consumers;

public sealed class RegisterUserConsumer(
    AuthDbContext db,
    PasswordHashing passwords,
    TokenService tokens,
    SessionTokens sessions,
    [FromKeyedServices(AuthDbContext.Service)] SnowflakeIds ids,
    LoginThrottle throttle,
    TimeProvider time) : IConsumer<RegisterUser>
{
    public async Task Consume(ConsumeContext<RegisterUser> context)
    {
        var (account, password, nickname) = context.Message;
        nickname = string.IsNullOrWhiteSpace(nickname) ? account : nickname.Trim();
        if (AccountRules.CheckRegistration(account, password, nickname) is { } broken)
        {
            await context.RespondAsync(new RequestRejected(400, broken.Message, broken.Field));
            return;
        }

        var key = AccountRules.Key(account);
        if (await db.Users.AnyAsync(u => u.AccountKey == key, context.CancellationToken))
        {
            await context.RespondAsync(new RequestRejected(409, "account already exists", "account"));
            return;
        }

        // Hashing shares login's bound: a registration flood cannot take the CPU either.
        var (ran, hash) = await throttle.TryHashAsync(() => passwords.Hash(password), context.CancellationToken);
        if (!ran)
        {
            await context.RespondAsync(Sessions.Busy);
            return;
        }
        var user = new User
        {
            Id = ids.Next(),
            Account = account,
            AccountKey = key,
            Nickname = nickname,
            PasswordHash = hash,
            CreatedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        db.Users.Add(user);
        try
        {
            await db.SaveChangesAsync(context.CancellationToken);
        }
        catch (DbUpdateException)
        {
            // Two registrations of one account raced and the unique index let one through;
            // anything else is a real failure for the caller to see.
            db.ChangeTracker.Clear();
            if (!await db.Users.AnyAsync(u => u.AccountKey == key, context.CancellationToken))
                throw;
            await context.RespondAsync(new RequestRejected(409, "account already exists", "account"));
            return;
        }

        await context.Publish(new UserRegistered(user.Id, user.Account, user.Nickname, user.Avatar, time.GetUtcNow()));
        await context.RespondAsync(await Sessions.StartAsync(sessions, tokens, user, context.CancellationToken));
    }
}
