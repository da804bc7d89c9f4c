using System.Net;
using EasyIm.Hosting.Tls;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EasyIm.Hosting;

public static class Listening
{
    public const string ListenAddressKey = "EasyIm:ListenAddress";
    public const string ApiPortKey = "Gateway:ApiPort";
    /// <summary>
    /// A port of its own for the internal endpoints (health, metrics, the OpenAPI document and its viewer); unset (0),
    /// they are served on the API port.
    /// </summary>
    public const string ManagementPortKey = "EasyIm:ManagementPort";

    /// <summary>The management port, or 0 when the internal endpoints share the API port.</summary>
    public static int GetManagementPort(this IConfiguration configuration)
    {
        var port = configuration.GetPort(ManagementPortKey, 0);
        if (port != 0 && port == configuration.GetPort(ApiPortKey, 8889))
            throw new StartupException($"{ManagementPortKey} must differ from {ApiPortKey} ({port}); leave it unset to serve the internal endpoints on the API port.");
        return port;
    }

    /// <summary>
    /// Listens on a port on <c>EasyIm:ListenAddress</c> (every interface when unset).
    /// </summary>
    public static void ListenOn(this KestrelServerOptions kestrel, IConfiguration configuration, int port, Action<ListenOptions>? configure = null)
    {
        configure ??= _ => { };
        var address = configuration[ListenAddressKey];
        if (string.IsNullOrWhiteSpace(address))
        {
            kestrel.ListenAnyIP(port, configure);
            return;
        }
        if (!IPAddress.TryParse(address, out var ip))
            throw new StartupException($"{ListenAddressKey} must be an IP address such as 127.0.0.1 or 0.0.0.0, not '{address}'.");
        kestrel.Listen(ip, port, configure);
    }

    /// <summary>
    /// Every process serves HTTP on the API port: the API where it runs the gateway, health everywhere.
    /// A module that must see each connection first (the gateway's PROXY protocol reader) registers an
    /// <see cref="IApiPortConnectionFilter"/>.
    /// </summary>
    public static IHostApplicationBuilder ListenOnApiPort(this IHostApplicationBuilder builder)
    {
        var port = builder.Configuration.GetPort(ApiPortKey, 8889);
        if (TlsOptions.Read(builder.Configuration) is { Enabled: true } tls)
        {
            builder.Services.AddSingleton(tls);
            builder.Services.AddSingleton<ServerCertificate>();
        }
        builder.Services.Configure<KestrelServerOptions>(k => k.ListenOn(builder.Configuration, port, listen =>
        {
            listen.Use(next =>
            {
                var filter = new Lazy<IApiPortConnectionFilter?>(() => listen.ApplicationServices.GetService<IApiPortConnectionFilter>());
                return context => filter.Value is { } first ? first.OnConnectionAsync(context, next) : next(context);
            });
            // After the PROXY header (plaintext, from the balancer), before HTTP.
            listen.UseTlsWhenConfigured();
        }));
        if (builder.Configuration.GetManagementPort() is > 0 and var management)
            builder.Services.Configure<KestrelServerOptions>(k => k.ListenOn(builder.Configuration, management));
        return builder;
    }
}

/// <summary>Connection middleware in front of the API port's HTTP (at most one per process).</summary>
public interface IApiPortConnectionFilter
{
    Task OnConnectionAsync(ConnectionContext context, ConnectionDelegate next);
}
