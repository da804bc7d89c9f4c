using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Messaging;
using EasyIm.Messaging.Data;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// Keeps the friendship and block projections the send path authorizes with, both directions per friendship event. Events
/// may arrive out of order or twice: a row only takes an event newer than the one it holds.
/// </summary>
public sealed class ProjectFriendshipsConsumer(MessagingDbContext db) :
    IConsumer<FriendshipCreated>,
    IConsumer<ApplyFriendship>,
    IConsumer<FriendshipRemoved>,
    IConsumer<UserBlockChanged>
{
    public Task Consume(ConsumeContext<UserBlockChanged> context) => ApplyBlockAsync(context.Message, context.CancellationToken);

    /// <summary>A block started or ended (<see cref="Block"/>): a row takes only an event newer than the one it holds.</summary>
    private async Task ApplyBlockAsync(UserBlockChanged changed, CancellationToken ct)
    {
        if (changed.UserId <= 0 || changed.BlockedId <= 0 || changed.UserId == changed.BlockedId)
            return;
        var atMs = changed.At.ToUnixTimeMilliseconds();
        var row = await db.Blocks.FirstOrDefaultAsync(b => b.UserId == changed.UserId && b.BlockedId == changed.BlockedId, ct);
        if (row is null)
            db.Blocks.Add(new Block { UserId = changed.UserId, BlockedId = changed.BlockedId, Active = changed.Blocked, ChangedAtMs = atMs });
        else if (atMs >= row.ChangedAtMs)
            (row.Active, row.ChangedAtMs) = (changed.Blocked, atMs);
        // A concurrent insert of the same pair fails here on the key; the retry then finds the row.
        await db.SaveChangesAsync(ct);
    }

    public Task Consume(ConsumeContext<FriendshipCreated> context) =>
        ApplyAsync(context.Message.UserId, context.Message.FriendId, true, context.Message.At, context.CancellationToken);

    /// <summary>Friends' read-your-writes: applied before the accept is answered (see <see cref="ApplyFriendship"/>).</summary>
    public async Task Consume(ConsumeContext<ApplyFriendship> context)
    {
        var (created, removed, block) = context.Message;
        if (created is not null)
            await ApplyAsync(created.UserId, created.FriendId, true, created.At, context.CancellationToken);
        if (removed is not null)
            await ApplyAsync(removed.UserId, removed.FriendId, false, removed.At, context.CancellationToken);
        if (block is not null)
            await ApplyBlockAsync(block, context.CancellationToken);
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
