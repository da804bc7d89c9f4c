using EasyIm.Contracts.Auth;
using EasyIm.Friends.Data;
using EasyIm.Hosting.Bus;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Users;

/// <summary>
/// The users projection, with the rule that makes it safe: where it does not know a user
/// (<c>UserRegistered</c> not consumed yet), auth is asked before anyone is told "no such user",
/// and what auth returns is stored.
/// </summary>
public sealed class UserDirectory(FriendsDbContext db, IRequestClient<GetUserProfiles> auth)
{
    /// <summary>The users among <paramref name="ids"/> that exist, by id.</summary>
    public async Task<IReadOnlyDictionary<long, User>> FindAsync(IReadOnlyCollection<long> ids, CancellationToken cancellationToken)
    {
        var wanted = ids.Distinct().ToList();
        var found = await db.Users.AsNoTracking().Where(u => wanted.Contains(u.Id)).ToDictionaryAsync(u => u.Id, cancellationToken);
        var missing = wanted.Where(id => !found.ContainsKey(id)).ToList();
        if (missing.Count == 0)
            return found;

        var reply = await auth.GetResponse<UserProfiles>(new GetUserProfiles(missing), cancellationToken, BusSetup.RequestTimeout);
        var learned = reply.Message.Users.Where(p => missing.Contains(p.UserId)).Select(ToUser).ToList();
        await StoreAsync(learned, cancellationToken);
        foreach (var user in learned)
            found[user.Id] = user;
        return found;
    }

    /// <summary>
    /// The user with exactly this account, from the projection or else from auth (then stored),
    /// so that a user is found by account the moment their registration returns.
    /// </summary>
    public async Task<User?> FindByAccountAsync(string account, CancellationToken cancellationToken)
    {
        var key = User.Key(account);
        var known = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.AccountKey == key, cancellationToken);
        if (known is not null)
            return known;
        var reply = await auth.GetResponse<UserProfiles>(new GetUserProfiles([], [account]), cancellationToken, BusSetup.RequestTimeout);
        if (reply.Message.Users.FirstOrDefault(p => User.Key(p.Account) == key) is not { } profile)
            return null;
        var user = ToUser(profile);
        await StoreAsync([user], cancellationToken);
        return user;
    }

    private async Task StoreAsync(List<User> learned, CancellationToken cancellationToken)
    {
        if (learned.Count == 0)
            return;
        db.Users.AddRange(learned);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // UserRegistered (or another caller's look-up) stored them meanwhile: the same users,
            // so nothing is lost. Anything else is a real failure for the caller to see.
            db.ChangeTracker.Clear();
            var learnedIds = learned.Select(u => u.Id).ToList();
            if (await db.Users.CountAsync(u => learnedIds.Contains(u.Id), cancellationToken) != learnedIds.Count)
                throw;
        }
    }

    public async Task<User?> FindAsync(long id, CancellationToken cancellationToken) =>
        (await FindAsync([id], cancellationToken)).GetValueOrDefault(id);

    /// <summary>Stores a user as auth describes them, inserting or updating.</summary>
    public async Task UpsertAsync(UserProfile profile, CancellationToken cancellationToken)
    {
        var user = await db.Users.FindAsync([profile.UserId], cancellationToken);
        if (user is null)
        {
            db.Users.Add(ToUser(profile));
        }
        else
        {
            user.Account = profile.Account;
            user.AccountKey = User.Key(profile.Account);
            user.Nickname = profile.Nickname;
            user.NicknameKey = User.Key(profile.Nickname);
            user.Avatar = profile.Avatar;
        }
        // A racing insert of the same user fails this with a unique violation; the consumer's
        // retry policy runs it again, and then it is an update.
        await db.SaveChangesAsync(cancellationToken);
    }

    private static User ToUser(UserProfile p) => new()
    {
        Id = p.UserId,
        Account = p.Account,
        AccountKey = User.Key(p.Account),
        Nickname = p.Nickname,
        NicknameKey = User.Key(p.Nickname),
        Avatar = p.Avatar,
    };
}
