using EasyIm.Contracts.Gateway;
using EasyIm.Friends.Data;
using EasyIm.Friends.Events;
using EasyIm.Hosting.Presence;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>
/// Invitations sent while the invitee was offline: when one of their connections completes its
/// handshake, that connection (only) gets a FRIEND_INVITE for each pending request, oldest first, sent to the
/// gateway the connect came from.
/// </summary>
public sealed class PushPendingInvitationsConsumer(FriendsDbContext db, GatewayPushes gateways) : IConsumer<UserConnected>
{
    /// <summary>The newest ones, should a user have piled up more; the rest stay listed by the HTTP API.</summary>
    public const int MaxPushed = 100;

    public async Task Consume(ConsumeContext<UserConnected> context)
    {
        var connected = context.Message;
        var pending = await db.FriendRequests.AsNoTracking()
            .Where(r => r.ToUserId == connected.UserId && r.Status == FriendRequestStatus.Pending)
            .OrderByDescending(r => r.CreatedAtMs).ThenByDescending(r => r.Id)
            .Take(MaxPushed)
            .ToListAsync(context.CancellationToken);
        if (pending.Count == 0)
            return;
        pending.Reverse();
        await gateways.SendToGatewayAsync(connected.GatewayId, pending
            .Select(r => new UserPush(r.ToUserId, ServerEvents.Invite(r.Id, r.FromUserId, r.ToUserId, r.Message), OnlyConnectionId: connected.ConnectionId))
            .ToList(), context, context.CancellationToken);
    }
}
