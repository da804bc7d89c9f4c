using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;
using EasyIm.Hosting.Outbox;
using MassTransit;

namespace EasyIm.Friends.Events;

/// <summary>
/// The events a change causes, for their recipients' update streams: staged in the outbox in the change's transaction
/// (the DbContext's next SaveChanges) as <see cref="AppendStreamUpdates"/>, which messaging appends to each user's one
/// stream (the positions chat messages take too) and pushes with their positions. A lost push, or a crash between the
/// commit and the publish, is then never a lost event: the outbox publishes it, and a client sees the gap in positions,
/// or asks on reconnect, and fetches what it missed (<c>GET /api/user/updates</c>, SYNC <c>after</c>).
/// </summary>
public sealed class UpdateStream(Outbox<Data.FriendsDbContext> outbox)
{
    /// <summary>Stages the events, in order, each with its own id (a repeat publish appends nothing).</summary>
    public Task AppendAsync(IReadOnlyList<(long UserId, WireMessage Event)> events, CancellationToken ct)
    {
        if (events.Count == 0)
            return Task.CompletedTask;
        var updates = new List<StreamUpdate>(events.Count);
        foreach (var (userId, update) in events)
        {
            if (update.Event is null)
                throw new ArgumentException("an update-stream event must be typed", nameof(events));
            updates.Add(new StreamUpdate(NewId.NextGuid(), userId, update with { ToUserId = userId }));
        }
        outbox.Add(new AppendStreamUpdates(updates));
        return Task.CompletedTask;
    }
}
