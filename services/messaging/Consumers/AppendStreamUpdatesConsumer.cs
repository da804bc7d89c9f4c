using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
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
