using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Delivery;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Consumers;

/// <summary>A user's stream events after a position, a page at a time (<see cref="GetUserUpdates"/>).</summary>
public sealed class GetUserUpdatesConsumer(MessagingDbContext db) : IConsumer<GetUserUpdates>
{
    public async Task Consume(ConsumeContext<GetUserUpdates> context)
    {
        var (userId, after, limit) = context.Message;
        var ct = context.CancellationToken;
        if (after < 0 || limit is < 1 or > GetUserUpdates.MaxLimit)
        {
            await context.RespondAsync(new Contracts.RequestRejected(400, $"after must be 0 or more and limit from 1 to {GetUserUpdates.MaxLimit}", after < 0 ? "after" : "limit"));
            return;
        }
        var rows = await db.StreamEvents.AsNoTracking()
            .Where(e => e.UserId == userId && e.Position > after)
            .OrderBy(e => e.Position)
            .Take(limit + 1)
            .ToListAsync(ct);
        var more = rows.Count > limit;
        var last = await db.StreamHeads.AsNoTracking().Where(h => h.UserId == userId).Select(h => h.Position).FirstOrDefaultAsync(ct);
        var oldest = await StreamEvents.OldestAsync(db, userId, ct);
        await context.RespondAsync(new UserUpdatesPage(rows.Take(limit).Select(StreamEvents.Wire).ToList(), last, oldest, more));
    }
}
