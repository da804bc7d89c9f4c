using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Friends.Data;
using EasyIm.Friends.Events;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>A page of a user's update stream after a position (<see cref="GetUserUpdates"/>).</summary>
public sealed class GetUserUpdatesConsumer(FriendsDbContext db) : IConsumer<GetUserUpdates>
{
    public async Task Consume(ConsumeContext<GetUserUpdates> context)
    {
        var (userId, after, limit) = context.Message;
        var ct = context.CancellationToken;
        if (after < 0 || limit is < 1 or > GetUserUpdates.MaxLimit)
        {
            await context.RespondAsync(new RequestRejected(400, $"after must be 0 or more and limit from 1 to {GetUserUpdates.MaxLimit}", after < 0 ? "after" : "limit"));
            return;
        }
        var rows = await db.UserUpdates.AsNoTracking()
            .Where(u => u.UserId == userId && u.Position > after)
            .OrderBy(u => u.Position)
            .Take(limit)
            .ToListAsync(ct);
        var last = await db.UserUpdateHeads.AsNoTracking().Where(h => h.UserId == userId).Select(h => h.Last).FirstOrDefaultAsync(ct);
        // The first entry of the user's key range: one index look-up.
        var oldest = await db.UserUpdates.AsNoTracking().Where(u => u.UserId == userId).MinAsync(u => (long?)u.Position, ct) ?? 0;
        await context.RespondAsync(new UserUpdatesPage(
            rows.Select(u => Stored(u, userId)).ToList(),
            last, oldest));
    }

    /// <summary>A stored event as its push was. Rows written before events were typed hold the client's content itself, and are sent as they are.</summary>
    private static WireMessage Stored(UserUpdate u, long userId) => ClientEventJson.TryDeserialize(u.Content) is { } e
        ? new WireMessage { MsgType = EventKeys.EventMsgType, FromUserId = u.FromUserId, ToUserId = userId, Event = e }
        : new WireMessage { MsgType = EventKeys.EventMsgType, FromUserId = u.FromUserId, ToUserId = userId, Content = u.Content };
}
