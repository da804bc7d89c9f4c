using System.Collections.Concurrent;

namespace EasyIm.IntegrationTests.Shapes;

/// <summary>
/// Fresh access tokens for test users of a server whose tokens live seconds, as a careful client keeps
/// them: a token older than <paramref name="refreshAfter"/> is replaced through <c>refresh_token</c>, which
/// rotates the refresh token, so one user's refreshes go one at a time (a second one with the same refresh
/// token would revoke the session).
/// </summary>
public sealed class RenewingTokens(EasyImShape shape, TimeSpan refreshAfter)
{
    private readonly ConcurrentDictionary<long, Pair> _users = new();

    private sealed class Pair(string refresh)
    {
        public SemaphoreSlim Lock { get; } = new(1, 1);
        public string Refresh { get; set; } = refresh;
        public string? Access { get; set; }
        public DateTime IssuedAt { get; set; }
    }

    /// <summary>An access token of <paramref name="user"/> with most of its life ahead.</summary>
    public async Task<string> AccessTokenAsync(TestUser user, CancellationToken cancellationToken = default)
    {
        var pair = _users.GetOrAdd(user.Id, _ => new Pair(user.RefreshToken));
        await pair.Lock.WaitAsync(cancellationToken);
        try
        {
            if (pair.Access is null || DateTime.UtcNow - pair.IssuedAt > refreshAfter)
            {
                var issuedAt = DateTime.UtcNow;
                var reply = await shape.PostAsync("/api/user/refresh_token", new { grant_type = "access_token", refresh_token = pair.Refresh });
                if (reply.Status != 200)
                    throw new InvalidOperationException($"user {user.Id} could not refresh its token: {reply.Status} {reply.Msg}");
                pair.Access = reply.Data.GetProperty("access_token").GetString()!;
                pair.Refresh = reply.Data.GetProperty("refresh_token").GetString()!;
                pair.IssuedAt = issuedAt;
            }
            return pair.Access;
        }
        finally
        {
            pair.Lock.Release();
        }
    }
}
