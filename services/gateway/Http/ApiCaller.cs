using EasyIm.Contracts;
using EasyIm.Contracts.Auth;
using EasyIm.Gateway.Connections;
using EasyIm.Hosting.Bus;
using MassTransit;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.Gateway.Http;

/// <summary>
/// Who is calling an authorized route: the owner of the access token (<c>Authorization: Bearer</c>,
/// else <c>access_token</c> in the query or body), as auth says. No token, or one auth refuses,
/// ends the request with 401 naming <c>access_token</c>; a caller past its budget of API requests
/// (<see cref="FrameKind.Api"/>) is answered 429.
/// </summary>
public static class ApiCaller
{
    /// <summary>
    /// Takes the user's token for one <paramref name="kind"/> from the gateway's per-user budgets (shared with
    /// the user's connections); over budget, the request is answered 429 naming the budget.
    /// </summary>
    public static void Spend(HttpRequest request, long userId, FrameKind kind)
    {
        if (request.HttpContext.RequestServices.GetService<UserBudgets>()?.TryTake(userId, kind) is { } over)
            throw new ApiInputException(null, over.Describe() + "; the request was refused, try again later", StatusCodes.Status429TooManyRequests);
    }

    public static async Task<long> ResolveAsync(HttpRequest request, ApiInput input, IRequestClient<ValidateAccessToken> auth, CancellationToken cancellationToken)
    {
        var token = input.AccessToken(request);
        if (string.IsNullOrEmpty(token))
            throw new ApiInputException("access_token", "access_token is required (Authorization: Bearer, or access_token in the query or body)",
                StatusCodes.Status401Unauthorized);
        try
        {
            var response = await auth.GetResponse<AccessTokenValidated, RequestRejected>(new ValidateAccessToken(null, token), cancellationToken, BusSetup.RequestTimeout);
            if (response.Is(out Response<AccessTokenValidated>? ok))
            {
                Spend(request, ok.Message.UserId, FrameKind.Api);
                return ok.Message.UserId;
            }
            response.Is(out Response<RequestRejected>? rejected);
            throw new ApiInputException("access_token", rejected!.Message.Message, rejected.Message.Code);
        }
        catch (RequestTimeoutException)
        {
            throw new ApiInputException(null, "the auth service did not answer in time; try again", StatusCodes.Status503ServiceUnavailable);
        }
    }
}
