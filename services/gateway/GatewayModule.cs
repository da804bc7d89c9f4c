using System.Text.Json;
using EasyIm.Gateway.Apis;
using EasyIm.Gateway.Http;
using EasyIm.Hosting;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Scalar.AspNetCore;

namespace EasyIm.Gateway;

public static class GatewayModule
{
    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        builder.Services.AddSingleton(options);

        // The long-connection port serves the same HTTP pipeline as the API port.
        var port = builder.Configuration.GetPort("Gateway:Port", 8888);
        builder.Services.Configure<KestrelServerOptions>(k => k.ListenOn(builder.Configuration, port));

        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        builder.Services.AddCors(o => o.AddDefaultPolicy(p => p.AllowAnyOrigin().AllowAnyHeader().AllowAnyMethod()));
        builder.Services.AddOpenApi();
        return builder;
    }

    public static void AddGatewayConsumers(IBusRegistrationConfigurator bus)
    {
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        app.UseExceptionHandler(errors => errors.Run(context =>
        {
            var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("EasyIm.Gateway.Api")
                .LogError(error, "Request {Method} {Path} failed", context.Request.Method, context.Request.Path);
            return ApiResults.WriteFailAsync(context, StatusCodes.Status500InternalServerError, "internal error");
        }));
        app.UseCors();

        var api = app.MapGroup("").AddEndpointFilter(async (context, next) =>
        {
            try
            {
                return await next(context);
            }
            catch (ApiInputException ex)
            {
                return ApiResults.Fail(ex.Status, ex.Message, ex.Field);
            }
        });
        api.MapUserApi();
        api.MapLocalApi();
        api.MapChatApi();

        // easyim answers OPTIONS on any path, preflight or not.
        app.MapMethods("/{**path}", [HttpMethods.Options], () => TypedResults.NoContent()).ExcludeFromDescription();
        app.MapGet("/static/avatar.svg", () => TypedResults.Text(DefaultAvatarSvg, "image/svg+xml")).ExcludeFromDescription();
        app.MapOpenApi();
        app.MapScalarApiReference();
        return app;
    }

    private const string DefaultAvatarSvg =
        """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" fill="#cbd5e1"/><circle cx="32" cy="24" r="12" fill="#f8fafc"/><path d="M10 60c2-14 12-22 22-22s20 8 22 22z" fill="#f8fafc"/></svg>""";
}
