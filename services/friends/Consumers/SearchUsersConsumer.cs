using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>
/// Users whose account or nickname contains the keyword, case-insensitively, the caller left out;
/// exact account matches first, then account prefixes, then the rest. The keyword reaches the
/// database only as a parameter of a LINQ query (a substring test, not LIKE), so <c>%</c>, <c>_</c>
/// and quotes match themselves.
/// </summary>
public sealed class SearchUsersConsumer(FriendsDbContext db) : IConsumer<SearchUsers>
{
    public async Task Consume(ConsumeContext<SearchUsers> context)
    {
        var (me, keyword, limit) = context.Message;
        if (FriendRules.CheckKeyword(keyword) is { } broken)
        {
            await context.RespondAsync(new RequestRejected(400, broken.Message, broken.Field));
            return;
        }
        var key = Data.User.Key(keyword.Trim());
        var take = limit <= 0 ? FriendRules.DefaultSearchLimit : Math.Min(limit, FriendRules.MaxSearchLimit);
        var found = await db.Users.AsNoTracking()
            .Where(u => u.Id != me && (u.AccountKey.Contains(key) || u.NicknameKey.Contains(key)))
            .OrderBy(u => u.AccountKey == key ? 0 : u.AccountKey.StartsWith(key) ? 1 : 2)
            .ThenBy(u => u.AccountKey)
            .Take(take)
            .Select(u => new UserInfo(u.Id, u.Account, u.Nickname, u.Avatar))
            .ToListAsync(context.CancellationToken);
        await context.RespondAsync(new UserList(found));
    }
}
