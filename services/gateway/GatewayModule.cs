using System.Text.Json;
using EasyIm.Gateway.Apis;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Consumers;
using EasyIm.Gateway.Delivery;
using EasyIm.Gateway.Http;
using EasyIm.Gateway.Web;
using EasyIm.Hosting;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Scalar.AspNetCore;

namespace EasyIm.Gateway;

public static class GatewayModule
{
    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        options.Validate();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(new GatewayIdentity(options.InstanceId));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ConnectionRegistry>();
        builder.Services.AddSingleton<UserBudgets>();
        builder.Services.AddSingleton<MessagingOutbound>();
        builder.Services.AddSingleton<FrameHandler>();
        builder.Services.AddSingleton<ConnectionHost>();
        builder.Services.AddHostedService<PresenceHeartbeat>();
        builder.Services.AddHostedService<ConnectionSweeper>();

        // The long-connection port: raw TCP (JSON lines or protobuf) is told from HTTP by its first
        // bytes; HTTP goes on to the same pipeline as the API port (API and WebSocket upgrades).
        var port = builder.Configuration.GetPort("Gateway:Port", 8888);
        builder.Services.Configure<KestrelServerOptions>(k => k.ListenOn(builder.Configuration, port, listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            listen.Use(next => context => listen.ApplicationServices.GetRequiredService<ConnectionHost>().OnConnectionAsync(context, next));
        }));

        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        builder.Services.AddCors(o => o.AddDefaultPolicy(p => p.AllowAnyOrigin().AllowAnyHeader().AllowAnyMethod()));
        builder.Services.AddOpenApi();
        return builder;
    }

    public static void AddGatewayConsumers(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<PushToUsersConsumer, PushToUsersConsumerDefinition>();
        bus.AddConsumer<UserTokensRevokedConsumer, UserTokensRevokedConsumerDefinition>();
        bus.AddConsumer<UserSessionRevokedConsumer, UserSessionRevokedConsumerDefinition>();
        bus.AddReceiveEndpointObserver<ResyncAfterReconnect>();
        bus.AddReceiveEndpointObserver<RecheckSessionsAfterReconnect>();
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
        // A WebSocket upgrade on any path of either port is a long connection, as in easyim (/ws is the documented one).
        app.UseWebSockets();
        var connections = app.Services.GetRequiredService<ConnectionHost>();
        app.Use(connections.OnRequestAsync);
        app.UseCors();
        // easyim answers OPTIONS on any path, preflight or not. Middleware rather than a catch-all
        // route: the route made every other method on every path a 405, which hid the web client's files.
        app.Use((context, next) =>
        {
            if (!HttpMethods.IsOptions(context.Request.Method))
                return next(context);
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        });
        app.UseWebClient();

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
        api.MapFriendsApi();
        api.MapGroupApi();
        api.MapLocalApi();
        api.MapChatApi();

        app.MapGet("/static/avatar.svg", () => TypedResults.Text(DefaultAvatarSvg, "image/svg+xml")).ExcludeFromDescription();
        app.MapOpenApi();
        app.MapScalarApiReference();
        return app;
    }

    private const string DefaultAvatarSvg =
        """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" fill="#cbd5e1"/><circle cx="32" cy="24" r="12" fill="#f8fafc"/><path d="M10 60c2-14 12-22 22-22s20 8 22 22z" fill="#f8fafc"/></svg>""";
}
