using System.Net;
using EasyIm.Gateway.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;

namespace EasyIm.Gateway.Apis;

public static class LocalApi
{
    public static IEndpointRouteBuilder MapLocalApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/local/stop", Stop).WithTags("Local")
            .WithSummary("Stop the process gracefully (callers on this machine only)");
        return app;
    }

    public static IResult Stop(HttpContext context, IHostApplicationLifetime lifetime)
    {
        var remote = context.Connection.RemoteIpAddress;
        if (remote is null || !IPAddress.IsLoopback(remote))
            return ApiResults.Fail(StatusCodes.Status403Forbidden, "only callers on this machine may stop the server");
        // Answer first; the host then stops listening, drains and exits.
        context.Response.OnCompleted(() =>
        {
            lifetime.StopApplication();
            return Task.CompletedTask;
        });
        return ApiResults.Ok(Empty.Instance, "stopping");
    }
}
