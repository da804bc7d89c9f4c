using EasyIm.Contracts.Gateway;
using EasyIm.Friends.Data;
using EasyIm.Hosting.Outbox;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Events;

/// <summary>
/// The users' update streams: each event a change causes is appended to its recipient's stream at the next
/// position, in the change's transaction (the DbContext's next SaveChanges), and its push, carrying that
/// position (the gateway writes it as <c>data.position</c>), goes into the outbox. A lost push is then never a lost event: the client
/// sees the gap in positions, or asks on reconnect, and fetches what it missed (<c>GET /api/user/updates</c>).
/// </summary>
public sealed class UpdateStream(FriendsDbContext db, Outbox<FriendsDbContext> outbox, TimeProvider time)
{
    /// <summary>Appends the events, in order, and stages their pushes. Two changes racing for one user: one of them fails on the head's concurrency token and is retried.</summary>
    public async Task AppendAsync(IReadOnlyList<(long UserId, WireMessage Event)> events, CancellationToken ct)
    {
        if (events.Count == 0)
            return;
        var users = events.Select(e => e.UserId).Distinct().ToList();
        var heads = await db.UserUpdateHeads.Where(h => users.Contains(h.UserId)).ToDictionaryAsync(h => h.UserId, ct);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var pushes = new List<UserPush>(events.Count);
        foreach (var (userId, update) in events)
        {
            if (!heads.TryGetValue(userId, out var head))
            {
                head = new UserUpdateHead { UserId = userId };
                db.UserUpdateHeads.Add(head);
                heads[userId] = head;
            }
            head.Last++;
            var positioned = (update.Event ?? throw new ArgumentException("an update-stream event must be typed", nameof(events))) with { Position = head.Last };
            db.UserUpdates.Add(new UserUpdate
            {
                UserId = userId, Position = head.Last, FromUserId = update.FromUserId, Content = ClientEventJson.Serialize(positioned), CreatedAtMs = now,
            });
            pushes.Add(new UserPush(userId, new WireMessage { MsgType = update.MsgType, FromUserId = update.FromUserId, ToUserId = userId, Event = positioned }));
        }
        outbox.Add(new PushToUsers(pushes));
    }
}
