using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// Keeps the friendship projection the send path authorizes with, both directions per event. Events
/// may arrive out of order or twice: a row only takes an event newer than the one it holds.
/// </summary>
public sealed class ProjectFriendshipsConsumer(MessagingDbContext db) :
    IConsumer<FriendshipCreated>,
    IConsumer<ApplyFriendship>,
    IConsumer<FriendshipRemoved>
{
    public Task Consume(ConsumeContext<FriendshipCreated> context) =>
        ApplyAsync(context.Message.UserId, context.Message.FriendId, true, context.Message.At, context.CancellationToken);

    /// <summary>Friends' read-your-writes: applied before the accept is answered (see <see cref="ApplyFriendship"/>).</summary>
    public async Task Consume(ConsumeContext<ApplyFriendship> context)
    {
        var (created, removed) = context.Message;
        if (created is not null)
            await ApplyAsync(created.UserId, created.FriendId, true, created.At, context.CancellationToken);
        if (removed is not null)
            await ApplyAsync(removed.UserId, removed.FriendId, false, removed.At, context.CancellationToken);
        await context.RespondAsync(new FriendshipApplied());
    }

    public Task Consume(ConsumeContext<FriendshipRemoved> context) =>
        ApplyAsync(context.Message.UserId, context.Message.FriendId, false, context.Message.At, context.CancellationToken);

    private async Task ApplyAsync(long userId, long friendId, bool active, DateTimeOffset at, CancellationToken ct)
    {
        if (userId <= 0 || friendId <= 0 || userId == friendId)
            return;
        var atMs = at.ToUnixTimeMilliseconds();
        var rows = await db.Friendships
            .Where(f => (f.UserId == userId && f.FriendId == friendId) || (f.UserId == friendId && f.FriendId == userId))
            .ToListAsync(ct);
        foreach (var (a, b) in new[] { (userId, friendId), (friendId, userId) })
        {
            var row = rows.FirstOrDefault(f => f.UserId == a && f.FriendId == b);
            if (row is null)
                db.Friendships.Add(new Friendship { UserId = a, FriendId = b, Active = active, ChangedAtMs = atMs });
            else if (atMs >= row.ChangedAtMs)
                (row.Active, row.ChangedAtMs) = (active, atMs);
        }
        // A concurrent insert of the same pair fails here on the key; the retry then finds the row.
        await db.SaveChangesAsync(ct);
    }
}

public sealed class ProjectFriendshipsConsumerDefinition : ConsumerDefinition<ProjectFriendshipsConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<ProjectFriendshipsConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(DatabaseRetry.Configure);
}
