using EasyIm.Contracts;
using EasyIm.Contracts.Auth;
using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;
using EasyIm.Friends.Users;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>
/// Users whose account or nickname contains the keyword, case-insensitively, the caller left out;
/// exact account matches first, then account prefixes, then the rest. The keyword reaches the
/// database only as a parameter of a LINQ query (a substring test, not LIKE), so <c>%</c>, <c>_</c>
/// and quotes match themselves.
/// An exact account the projection does not know yet is asked of auth, so a user is found the
/// moment their registration returns.
/// </summary>
public sealed class SearchUsersConsumer(FriendsDbContext db, UserDirectory directory) : IConsumer<SearchUsers>
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
        if (AccountRules.CheckAccount(keyword.Trim()) is null && !found.Any(u => Data.User.Key(u.Account) == key)
            && await directory.FindByAccountAsync(keyword.Trim(), context.CancellationToken) is { } exact && exact.Id != me)
        {
            found.Insert(0, new UserInfo(exact.Id, exact.Account, exact.Nickname, exact.Avatar));
            if (found.Count > take)
                found.RemoveAt(found.Count - 1);
        }
        await context.RespondAsync(new UserList(found));
    }
}
