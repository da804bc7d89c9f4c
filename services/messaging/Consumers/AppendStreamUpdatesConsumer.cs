using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Hosting.Database;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Delivery;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// Appends another service's events (friends' outbox) to their recipients' update streams, at the next positions of the
/// one sequence chat messages take too (<see cref="MessagingSql.AdvanceHeadsAsync"/>, in one transaction), then pushes
/// each with its position. Idempotent: an update already appended (the outbox publishes at least once) is not appended
/// again but pushed again at its position, in case the first push was lost with a process that died after the commit.
/// Two deliveries of one update racing each other: the unique event id fails one transaction, and its retry finds it.
/// </summary>
public sealed class AppendStreamUpdatesConsumer(MessagingDbContext db, PushDispatcher dispatcher, TimeProvider time) : IConsumer<AppendStreamUpdates>
{
    public async Task Consume(ConsumeContext<AppendStreamUpdates> context)
    {
        var ct = context.CancellationToken;
        var updates = (context.Message.Updates ?? []).Where(u => u is { UserId: > 0, Event.Event: not null }).DistinctBy(u => u.Id).ToList();
        if (updates.Count == 0)
            return;
        var ids = updates.Select(u => u.Id).ToList();
        var stored = await db.StreamEvents.AsNoTracking().Where(e => ids.Contains(e.EventId)).ToDictionaryAsync(e => e.EventId, ct);
        var fresh = updates.Where(u => !stored.ContainsKey(u.Id)).ToList();
        if (fresh.Count > 0)
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            var counts = fresh.GroupBy(u => u.UserId).Select(g => new MessagingSql.HeadAdvance(g.Key, g.Count())).ToList();
            var heads = await MessagingSql.AdvanceHeadsAsync(db, counts, ct);
            var next = counts.ToDictionary(c => c.UserId, c => heads[c.UserId] - c.Count + 1);
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var update in fresh)
            {
                var position = next[update.UserId]++;
                var row = new StreamEvent
                {
                    UserId = update.UserId,
                    Position = position,
                    EventId = update.Id,
                    FromUserId = update.Event.FromUserId,
                    Content = ClientEventJson.Serialize(update.Event.Event! with { Position = position }),
                    CreatedAtMs = now,
                };
                db.StreamEvents.Add(row);
                stored[update.Id] = row;
            }
            await db.SaveChangesAsync(ct);
            await transaction.CommitAsync(ct);
        }
        var pushes = updates.Select(u => new OutgoingPush(new UserPush(u.UserId, StreamEvents.Wire(stored[u.Id])))).ToList();
        await dispatcher.DispatchAsync(context, pushes);
    }
}

/// <summary>Retries a transaction that failed on a transient error or a racing repeat (<see cref="DatabaseRetry"/>).</summary>
public sealed class AppendStreamUpdatesConsumerDefinition : ConsumerDefinition<AppendStreamUpdatesConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<AppendStreamUpdatesConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(DatabaseRetry.Configure);
}

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

/// <summary>Reading the stream's events back.</summary>
internal static class StreamEvents
{
    /// <summary>A stored event as its push is.</summary>
    public static WireMessage Wire(StreamEvent e) => new()
    {
        MsgType = EventKeys.EventMsgType,
        FromUserId = e.FromUserId,
        ToUserId = e.UserId,
        Event = ClientEventJson.TryDeserialize(e.Content),
    };

    /// <summary>The user's oldest position still kept, messages and events alike (0: none).</summary>
    public static async Task<long> OldestAsync(MessagingDbContext db, long userId, CancellationToken ct)
    {
        var entry = await db.StreamEntries.AsNoTracking().Where(e => e.UserId == userId).MinAsync(e => (long?)e.Position, ct);
        var stored = await db.StreamEvents.AsNoTracking().Where(e => e.UserId == userId).MinAsync(e => (long?)e.Position, ct);
        return entry is null ? stored ?? 0 : stored is null ? entry.Value : Math.Min(entry.Value, stored.Value);
    }
}
