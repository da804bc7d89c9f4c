using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Data;

/// <summary><see cref="UserId"/> blocks <see cref="BlockedId"/>: one row per block, deleted when it is lifted.</summary>
public sealed class Block
{
    public long UserId { get; set; }
    public long BlockedId { get; set; }
    public long CreatedAtMs { get; set; }
}

public static class BlockQueries
{
    /// <summary>Those of <paramref name="users"/> who block <paramref name="me"/>: a group made or grown by me may not take them.</summary>
    public static async Task<List<long>> BlockingAsync(this FriendsDbContext db, IReadOnlyCollection<long> users, long me, CancellationToken ct) =>
        users.Count == 0 ? [] : await db.Blocks.AsNoTracking().Where(b => users.Contains(b.UserId) && b.BlockedId == me).Select(b => b.UserId).ToListAsync(ct);
}
