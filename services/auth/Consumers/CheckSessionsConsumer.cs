using EasyIm.Auth.Data;
using EasyIm.Contracts.Auth;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.Auth.Consumers;

/// <summary>
/// A gateway back on the bus asks which of its connections' sessions were revoked while it was away:
/// the user's token version moved past the session's (logout, secret reset), or the session itself was
/// revoked or is gone (pruned once its tokens expired). Two queries, whatever the number of sessions.
/// </summary>
public sealed class CheckSessionsConsumer(AuthDbContext db) : IConsumer<CheckSessions>
{
    public async Task Consume(ConsumeContext<CheckSessions> context)
    {
        var asked = context.Message.Sessions.Take(CheckSessions.MaxSessions).ToList();
        var userIds = asked.Select(s => s.UserId).Distinct().ToList();
        var sessionIds = asked.Where(s => s.SessionId != 0).Select(s => s.SessionId).Distinct().ToList();
        var versions = await db.Users.AsNoTracking()
            .Where(u => userIds.Contains(u.Id))
            .ToDictionaryAsync(u => u.Id, u => u.TokenVersion, context.CancellationToken);
        var live = (await db.LoginSessions.AsNoTracking()
            .Where(s => sessionIds.Contains(s.Id) && s.RevokedAtMs == null)
            .Select(s => new { s.Id, s.UserId })
            .ToListAsync(context.CancellationToken)).ToHashSet();
        var revoked = asked.Where(s =>
                !versions.TryGetValue(s.UserId, out var version) || version != s.TokenVersion
                || (s.SessionId != 0 && !live.Contains(new { Id = s.SessionId, s.UserId })))
            .ToList();
        await context.RespondAsync(new SessionsChecked(revoked));
    }
}
