using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts;
using EasyIm.Contracts.Auth;

namespace EasyIm.Auth.Consumers;

internal static class Sessions
{
    public static readonly RequestRejected BadCredentials = new(401, "account or password is incorrect");
    public static readonly RequestRejected BadToken = new(401, "token is invalid or expired");

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
