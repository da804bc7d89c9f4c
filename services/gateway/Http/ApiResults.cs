using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EasyIm.Gateway.Http;

/// <summary>easyim's response envelope: <c>{"code":..,"msg":..,"data":{..}}</c> with <c>code</c> equal to the HTTP status.</summary>
public sealed record ApiEnvelope<T>(int Code, string Msg, T Data);

/// <summary>The empty <c>data</c> object easyim sends with bare successes.</summary>
public sealed record Empty
{
    public static readonly Empty Instance = new();
}

/// <summary>The <c>data</c> of an error: <c>{}</c>, or <c>{"field":..}</c> naming the input at fault.</summary>
public sealed record ErrorData([property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Field);

public static class ApiResults
{
    public static JsonHttpResult<ApiEnvelope<T>> Ok<T>(T data, string msg = "success") =>
        TypedResults.Json(new ApiEnvelope<T>(StatusCodes.Status200OK, msg, data), statusCode: StatusCodes.Status200OK);

    public static JsonHttpResult<ApiEnvelope<ErrorData>> Fail(int code, string msg, string? field = null) =>
        TypedResults.Json(new ApiEnvelope<ErrorData>(code, msg, new ErrorData(field)), statusCode: code);

    /// <summary>An error the client may retry after <paramref name="retryAfterSeconds"/> (429, 503): the envelope and <c>Retry-After</c>.</summary>
    public static IResult FailRetryAfter(int code, string msg, int retryAfterSeconds, string? field = null) =>
        new RetryAfterResult(Fail(code, msg, field), retryAfterSeconds);

    private sealed class RetryAfterResult(IResult inner, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }

    /// <summary>Writes the envelope straight to a response, for middleware that runs outside an endpoint.</summary>
    public static Task WriteFailAsync(HttpContext context, int code, string msg)
    {
        context.Response.StatusCode = code;
        return context.Response.WriteAsJsonAsync(new ApiEnvelope<ErrorData>(code, msg, new ErrorData(null)));
    }
}
