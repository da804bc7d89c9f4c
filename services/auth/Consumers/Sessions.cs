using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts;
using EasyIm.Contracts.Auth;

namespace EasyIm.Auth.Consumers;

internal static class Sessions
{
    public static readonly RequestRejected BadCredentials = new(401, "account or password is incorrect");
    public static readonly RequestRejected BadToken = new(401, "token is invalid or expired");

    /// <summary>The hash queue is full: a flood is being refused; a real user tries again in a moment.</summary>
    public static readonly RequestRejected Busy = new(503, "the server is busy checking passwords; try again shortly", RetryAfterSeconds: 1);

    public static readonly RequestRejected AccountBusy =
        new(429, "too many logins of this account at once; try again shortly", "account", RetryAfterSeconds: 1);

    /// <summary>Alike for known and unknown accounts, so the refusal says nothing about whether the account exists.</summary>
    public static RequestRejected TooManyFailures(int retryAfterSeconds) =>
        new(429, $"too many failed logins for this account; try again in {retryAfterSeconds} s", "account", retryAfterSeconds);

    /// <summary>Starts a login session for the user and answers with its first pair of tokens.</summary>
    public static async Task<UserSessionIssued> StartAsync(SessionTokens sessions, TokenService tokens, User user, CancellationToken cancellationToken)
    {
        var issued = await sessions.StartAsync(user, cancellationToken);
        return new UserSessionIssued(
            user.Id,
            user.Account,
            user.Nickname,
            user.Avatar,
            issued.AccessToken,
            (long)tokens.AccessLifetime.TotalSeconds,
            issued.RefreshToken);
    }
}
