using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Friends.Data;
using EasyIm.Friends.Groups;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Friends.Consumers;

/// <summary>
/// The owner changes who may invite to the group (403 for anyone else, members included). Setting what
/// is already set answers the same, so a retried call is harmless.
/// </summary>
public sealed class UpdateGroupSettingsConsumer(FriendsDbContext db) : IConsumer<UpdateGroupSettings>
{
    public async Task Consume(ConsumeContext<UpdateGroupSettings> context)
    {
        var (me, groupId, invitePolicy) = context.Message;
        var ct = context.CancellationToken;

        GroupInvitePolicy? policy = null;
        if (invitePolicy is not null)
        {
            if (!InvitePolicies.TryParse(invitePolicy, out var parsed))
            {
                await context.RespondAsync(new RequestRejected(400,
                    $"invite_policy must be \"{GroupInvitePolicies.Members}\" (every member may invite) or \"{GroupInvitePolicies.Admins}\" (only the owner)", "invite_policy"));
                return;
            }
            policy = parsed;
        }
        var group = await db.Groups.FirstOrDefaultAsync(g => g.Id == groupId && g.DismissedAtMs == null, ct);
        if (group is null)
        {
            await context.RespondAsync(new RequestRejected(404, $"group {groupId} does not exist", "group_id"));
            return;
        }
        var role = await db.GroupMembers.Where(m => m.GroupId == groupId && m.UserId == me).Select(m => m.Role).FirstOrDefaultAsync(ct);
        if (role is null)
        {
            await context.RespondAsync(new RequestRejected(403, $"you are not a member of group {groupId}", "group_id"));
            return;
        }
        if (role != GroupRoles.Owner)
        {
            await context.RespondAsync(new RequestRejected(403, $"only the owner of group {groupId} may change its settings", "group_id"));
            return;
        }

        if (policy is { } changed && changed != group.InvitePolicy)
        {
            group.InvitePolicy = changed;
            // The version is a concurrency token: an invite that read the old policy and races this change
            // fails its save and is retried under the new one, so no invite is let in after the answer.
            group.Version++;
            await db.SaveChangesAsync(ct);
        }
        await context.RespondAsync(new GroupSettingsUpdated(groupId, InvitePolicies.ToWire(group.InvitePolicy)));
    }
}
