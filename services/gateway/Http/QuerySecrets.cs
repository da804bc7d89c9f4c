using Microsoft.AspNetCore.Http;

namespace EasyIm.Gateway.Http;

/// <summary>
/// Secrets stay out of URLs, which proxies, browsers and request logs keep: a password or refresh token
/// in the query string is refused (400) on every path, before anything reads it. easyim's clients send
/// <c>access_token</c> in the query of GET requests (and WebSocket upgrades, which are GETs), so that stays,
/// on GET only; a short-lived access token leaks less, and the request log that would show it is kept at
/// Warning (<see cref="GatewayModule"/>). OpenTelemetry redacts query values in traces by default.
/// </summary>
public static class QuerySecrets
{
    /// <summary>Never accepted in a query string.</summary>
    public static readonly IReadOnlyList<string> Refused = ["password", "refresh_token"];

    public const string AccessToken = "access_token";

    public static Task RefuseAsync(HttpContext context, RequestDelegate next)
    {
        var query = context.Request.Query;
        if (query.Count == 0)
            return next(context);
        // IQueryCollection compares names ignoring case, so PASSWORD= is refused too.
        foreach (var name in Refused)
        {
            if (query.ContainsKey(name))
                return RefuseAsync(context, name, $"{name} must not be sent in the query string (URLs are logged and cached): send it in the JSON body");
        }
        if (query.ContainsKey(AccessToken) && !HttpMethods.IsGet(context.Request.Method))
        {
            return RefuseAsync(context, AccessToken,
                $"{AccessToken} in the query string is accepted on GET requests only: send it as Authorization: Bearer, or in the JSON body");
        }
        return next(context);
    }

    private static Task RefuseAsync(HttpContext context, string field, string message)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return context.Response.WriteAsJsonAsync(new ApiEnvelope<ErrorData>(StatusCodes.Status400BadRequest, message, new ErrorData(field)));
    }
}
