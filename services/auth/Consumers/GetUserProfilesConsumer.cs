using EasyIm.Auth.Data;
using EasyIm.Contracts.Auth;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Auth.Consumers;

/// <summary>Lets another service check a user it has not heard of yet, rather than refuse on a stale projection.</summary>
public sealed class GetUserProfilesConsumer(AuthDbContext db) : IConsumer<GetUserProfiles>
{
    private const int MaxIds = 500;

    public async Task Consume(ConsumeContext<GetUserProfiles> context)
    {
        var ids = context.Message.UserIds.Distinct().Take(MaxIds).ToList();
        var accounts = (context.Message.Accounts ?? []).Select(AccountRules.Key).Distinct().Take(MaxIds).ToList();
        var users = await db.Users.AsNoTracking()
            .Where(u => ids.Contains(u.Id) || accounts.Contains(u.AccountKey))
            .Select(u => new UserProfile(u.Id, u.Account, u.Nickname, u.Avatar))
            .ToListAsync(context.CancellationToken);
        await context.RespondAsync(new UserProfiles(users));
    }
}
