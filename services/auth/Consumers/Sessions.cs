using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts;
using EasyIm.Contracts.Auth;

namespace EasyIm.Auth.Consumers;

internal static class Sessions
{
    public static readonly RequestRejected BadCredentials = new(401, "account or password is incorrect");
    public static readonly RequestRejected BadToken = new(401, "token is invalid or expired");

    public static UserSessionIssued Issue(TokenService tokens, User user) => new(
        user.Id,
        user.Account,
        user.Nickname,
        user.Avatar,
        tokens.Issue(user, TokenService.AccessGrant),
        (long)TokenService.AccessLifetime.TotalSeconds,
        tokens.Issue(user, TokenService.RefreshGrant));
}
