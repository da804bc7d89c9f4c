using System.Text.Json;
using EasyIm.Gateway.Apis;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Consumers;
using EasyIm.Gateway.Delivery;
using EasyIm.Gateway.Http;
using EasyIm.Gateway.Proxies;
using EasyIm.Gateway.Web;
using EasyIm.Hosting;
using EasyIm.Hosting.Presence;
using EasyIm.Hosting.Tls;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
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
        var options = GatewayOptions.Read(builder.Configuration);
        builder.Services.AddSingleton(options);
        var trusted = TrustedProxies.Parse(options.TrustedProxies);
        builder.Services.AddSingleton(trusted);
        builder.Services.AddSingleton<ProxyProtocolMiddleware>();
        var proxyProtocol = options.ProxyProtocol && !trusted.IsEmpty;
        if (proxyProtocol)
            builder.Services.AddSingleton<IApiPortConnectionFilter>(sp => new ApiPortProxyProtocol(sp.GetRequiredService<ProxyProtocolMiddleware>()));
        builder.Services.Configure<ForwardedHeadersOptions>(forwarded =>
        {
            // The defaults trust loopback; here only the configured proxies are (and with none, the middleware is not used).
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor;
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var network in trusted.Networks)
                forwarded.KnownIPNetworks.Add(network);
            // Right to left through X-Forwarded-For while the hop is a trusted proxy: a chain of them works, a client's own entries do not.
            forwarded.ForwardLimit = null;
        });
        builder.Services.AddAddressThrottle(options.Throttle);
        // Its "Request starting" lines hold the query string, where easyim's clients put access_token.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        builder.Services.AddSingleton(new GatewayIdentity(options.InstanceId));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ConnectionRegistry>();
        builder.Services.AddSingleton<UserBudgets>();
        builder.Services.AddSingleton<MessagingOutbound>();
        builder.Services.AddSingleton<FrameHandler>();
        builder.Services.AddSingleton<ConnectionHost>();
        builder.Services.TryAddSingleton(PresenceOptions.Read(builder.Configuration));
        builder.Services.AddSingleton<PresenceHeartbeat>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PresenceHeartbeat>());
        builder.Services.AddHostedService<ConnectionSweeper>();

        // The long-connection port: raw TCP (JSON lines or protobuf) is told from HTTP by its first
        // bytes; HTTP goes on to the same pipeline as the API port (API and WebSocket upgrades).
        var port = builder.Configuration.GetPort("Gateway:Port", 8888);
        builder.Services.Configure<KestrelServerOptions>(k => k.ListenOn(builder.Configuration, port, listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            // First the PROXY header (when proxies are trusted), so the sniffer and HTTP see the client's bytes and address.
            if (proxyProtocol)
                listen.Use(next => context => listen.ApplicationServices.GetRequiredService<ProxyProtocolMiddleware>().OnConnectionAsync(context, next));
            // TLS (EasyIm:Tls) after the PROXY header, before the sniffer: raw TCP and WebSocket both inside it.
            listen.UseTlsWhenConfigured();
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
        bus.AddConsumer<ReportGatewayPresenceConsumer, ReportGatewayPresenceConsumerDefinition>();
        bus.AddReceiveEndpointObserver<ResyncAfterReconnect>();
        bus.AddReceiveEndpointObserver<RecheckSessionsAfterReconnect>();
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<TrustedProxies>().IsEmpty)
            app.UseForwardedHeaders();
        app.UseExceptionHandler(errors => errors.Run(context =>
        {
            var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("EasyIm.Gateway.Api")
                .LogError(error, "Request {Method} {Path} failed", context.Request.Method, context.Request.Path);
            return ApiResults.WriteFailAsync(context, StatusCodes.Status500InternalServerError, "internal error");
        }));
        app.Use(QuerySecrets.RefuseAsync);
        // A WebSocket upgrade on any path of either port is a long connection, as in easyim (/ws is the documented one).
        app.UseWebSockets();
        var connections = app.Services.GetRequiredService<ConnectionHost>();
        app.Use(connections.OnRequestAsync);
        // The old stop route's path gets no CORS at all: not even its 404 may be read, or preflighted, by a page.
        app.UseWhen(context => !IsLocalPath(context), cors => cors.UseCors());
        // After CORS, so that a browser client can read its 429.
        app.UseRateLimiter();
        // easyim answers OPTIONS on any path, preflight or not. Middleware rather than a catch-all
        // route: the route made every other method on every path a 405, which hid the web client's files.
        app.Use((context, next) =>
        {
            if (!HttpMethods.IsOptions(context.Request.Method) || IsLocalPath(context))
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
        api.MapChatApi();

        app.MapGet("/static/avatar.svg", () => TypedResults.Text(DefaultAvatarSvg, "image/svg+xml")).ExcludeFromDescription();
        app.MapOpenApi();
        app.MapScalarApiReference();
        return app;
    }

    /// <summary>
    /// <c>/api/local/...</c>: where easyim's stop route was. The process is stopped through its control socket
    /// now (services/server/ControlSocket.cs); nothing here answers, and nothing here may be reached cross-origin.
    /// </summary>
    private static bool IsLocalPath(HttpContext context) => context.Request.Path.StartsWithSegments("/api/local", StringComparison.OrdinalIgnoreCase);

    private const string DefaultAvatarSvg =
        """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" fill="#cbd5e1"/><circle cx="32" cy="24" r="12" fill="#f8fafc"/><path d="M10 60c2-14 12-22 22-22s20 8 22 22z" fill="#f8fafc"/></svg>""";

    private sealed class ApiPortProxyProtocol(ProxyProtocolMiddleware proxies) : IApiPortConnectionFilter
    {
        public Task OnConnectionAsync(ConnectionContext context, ConnectionDelegate next) => proxies.OnConnectionAsync(context, next);
    }
}
