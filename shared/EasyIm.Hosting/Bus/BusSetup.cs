using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using EasyIm.Hosting.Tls;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EasyIm.Hosting.Bus;

public enum BusTransport
{
    InMemory,
    RabbitMq,
}

/// <summary>What a process sends on the bus; it reads both.</summary>
public enum BusWireFormat
{
    /// <summary>Raw JSON read straight into the message type (<see cref="DirectJsonSerializerFactory"/>).</summary>
    RawJson,
    /// <summary>MassTransit's JSON envelope: what versions before the raw format read, for a rolling upgrade from one.</summary>
    Envelope,
}

public static partial class BusSetup
{
    public const string TransportKey = "Bus:Transport";
    public const string RabbitMqConnectionKey = "ConnectionStrings:rabbitmq";
    public const string WireFormatKey = "Bus:WireFormat";
    /// <summary>
    /// For <c>amqps://</c>: a PEM file of the CA that signed the broker's certificate, when it is not in the system's trust
    /// store. The broker's certificate must name the host of the address either way.
    /// </summary>
    public const string RabbitMqCaKey = "Bus:RabbitMq:CaCertificatePath";

    /// <summary>The services a process runs (easyim's <c>--target</c>): one of them names its bus endpoint (<see cref="BusEndpointName"/>).</summary>
    public const string TargetKey = "EasyIm:Target";

    /// <summary>How long a caller waits for a service's reply before giving up.</summary>
    public static readonly RequestTimeout RequestTimeout = RequestTimeout.After(s: 10);

    public static BusTransport GetBusTransport(this IConfiguration configuration) =>
        GetEnum(configuration, TransportKey, BusTransport.InMemory);

    public static BusWireFormat GetBusWireFormat(this IConfiguration configuration) =>
        GetEnum(configuration, WireFormatKey, BusWireFormat.RawJson);

    private static TEnum GetEnum<TEnum>(IConfiguration configuration, string key, TEnum unset) where TEnum : struct, Enum
    {
        var value = configuration[key];
        if (string.IsNullOrWhiteSpace(value))
            return unset;
        return Enum.TryParse<TEnum>(value, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed)
            ? parsed
            : throw new StartupException($"{key} must be {string.Join(" or ", Enum.GetNames<TEnum>())}, not '{value}'.");
    }

    /// <summary>
    /// Adds MassTransit once for the whole process, with the consumers of every module this
    /// process runs, on the transport <c>Bus:Transport</c> names. <paramref name="endpoints"/> configure
    /// receive endpoints of their own (ones <c>ConfigureEndpoints</c> cannot make, such as one consumer on
    /// several queues).
    /// </summary>
    public static IHostApplicationBuilder AddEasyImBus(
        this IHostApplicationBuilder builder,
        IEnumerable<Action<IBusRegistrationConfigurator>> registrations,
        IEnumerable<Action<IBusRegistrationContext, IBusFactoryConfigurator>>? endpoints = null)
    {
        var ownEndpoints = endpoints?.ToList() ?? [];
        var transport = builder.Configuration.GetBusTransport();
        var rabbit = transport == BusTransport.RabbitMq ? ParseRabbitMq(builder.Configuration[RabbitMqConnectionKey]) : null;
        var brokerCa = rabbit is { Tls: true } ? LoadBrokerCa(builder.Configuration[RabbitMqCaKey]) : null;
        var format = builder.Configuration.GetBusWireFormat();
        var busEndpoint = BusEndpointName(builder.Configuration[TargetKey]);

        builder.Services.AddMassTransit(bus =>
        {
            bus.SetKebabCaseEndpointNameFormatter();
            // MassTransit 8.4+ reports usage to its vendor over the internet by default; a server does not phone home.
            bus.ConfigureUsageTelemetryOptions(o => o.Enabled = false);
            bus.AddReceiveEndpointObserver<CountEndpointFaults>();
            foreach (var register in registrations)
                register(bus);

            if (rabbit is null)
            {
                bus.UsingInMemory((context, cfg) =>
                {
                    UseWireFormat(cfg, format);
                    BusSecrets.Configure(cfg);
                    foreach (var configure in ownEndpoints)
                        configure(context, cfg);
                    cfg.ConfigureEndpoints(context);
                });
                return;
            }
            bus.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(rabbit.Host, rabbit.Port, rabbit.VirtualHost, h =>
                {
                    h.Username(rabbit.Username);
                    h.Password(rabbit.Password);
                    if (rabbit.Tls)
                    {
                        h.UseSsl(ssl =>
                        {
                            ssl.ServerName = rabbit.Host;
                            ssl.Protocol = SslProtocols.Tls12 | SslProtocols.Tls13;
                            if (brokerCa is not null)
                                ssl.CertificateValidationCallback = (_, certificate, _, errors) => PrivateCa.Trusts(brokerCa, certificate, errors);
                        });
                    }
                });
                // Bounded: a consumer that needs a database connection waits for one from a pool of
                // Database:MaxPoolSize, so more concurrent messages than that per endpoint only queue up
                // inside the process. Endpoints that must keep order set their own limit of 1.
                if (busEndpoint is not null)
                    cfg.OverrideDefaultBusEndpointQueueName(busEndpoint);
                UseWireFormat(cfg, format);
                BusSecrets.Configure(cfg);
                cfg.PrefetchCount = 64;
                cfg.ConcurrentMessageLimit = 16;
                foreach (var configure in ownEndpoints)
                    configure(context, cfg);
                cfg.ConfigureEndpoints(context);
            });
        });
        return builder;
    }

    /// <summary>
    /// Reads raw JSON (<see cref="DirectJsonSerializerFactory"/>) and MassTransit's envelope alike, and sends
    /// <paramref name="format"/>: raw JSON, or the envelope while processes of a version before the raw format
    /// still run (docs/architecture.md, "The two shapes").
    /// </summary>
    private static void UseWireFormat(IBusFactoryConfigurator cfg, BusWireFormat format)
    {
        cfg.AddSerializer(DirectJsonSerializerFactory.Instance, isSerializer: format == BusWireFormat.RawJson);
        cfg.AddDeserializer(DirectJsonSerializerFactory.Instance);
    }

    /// <summary>
    /// On RabbitMQ, one consumer of the queue at a time across every process (the others wait as
    /// standbys), so its messages are handled in order; other transports have one process anyway.
    /// </summary>
    public static void UseSingleActiveConsumer(IReceiveEndpointConfigurator endpoint)
    {
        if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
            rabbit.SingleActiveConsumer = true;
    }

    /// <summary>
    /// The bus endpoint (the temporary queue a process's requests are answered on) of a process that runs one service:
    /// <c>{service}_bus_{id}</c> rather than MassTransit's <c>{host}_{process}_bus_{id}</c>, so that the broker's
    /// permissions can tell whose replies a queue holds (deploy/rabbitmq-accounts.sh: only auth, friends and messaging
    /// may answer into a gateway's, and only the gateway's own account may read it). Null, MassTransit's name, for
    /// several services in one process.
    /// </summary>
    internal static string? BusEndpointName(string? target) =>
        target?.Trim().ToLowerInvariant() is { } one && ServiceName().IsMatch(one) && one != "all"
            ? $"{one}_bus_{Guid.NewGuid():N}"
            : null;

    [GeneratedRegex("^[a-z]+$")]
    private static partial Regex ServiceName();

    internal sealed record RabbitMqEndpoint(string Host, ushort Port, string VirtualHost, string Username, string Password, bool Tls = false);

    private static X509Certificate2? LoadBrokerCa(string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
            return null;
        try
        {
            return X509CertificateLoader.LoadCertificateFromFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new StartupException($"{RabbitMqCaKey} '{path}' could not be loaded: {ex.Message}");
        }
    }

    /// <summary>An address as an error may show it: without its password.</summary>
    private static string Redact(string address) =>
        Regex.Replace(address, @"(?<=://[^:/@]*:)[^@/]*(?=@)", "***");

    internal static RabbitMqEndpoint ParseRabbitMq(string? connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
            throw new StartupException(
                $"{RabbitMqConnectionKey} is required when {TransportKey} is RabbitMq, e.g. amqp://guest:guest@127.0.0.1:5672/ " +
                "(environment variable ConnectionStrings__rabbitmq).");
        if (!Uri.TryCreate(connectionString, UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "rabbitmq" or "amqps" or "rabbitmqs"))
            throw new StartupException($"{RabbitMqConnectionKey} must be an amqp:// (or amqps://, TLS) address such as amqp://user:pass@host:5672/vhost, not '{Redact(connectionString)}'.");
        var tls = uri.Scheme is "amqps" or "rabbitmqs";

        var user = "guest";
        var pass = "guest";
        if (uri.UserInfo.Length > 0)
        {
            var parts = uri.UserInfo.Split(':', 2);
            user = Uri.UnescapeDataString(parts[0]);
            pass = parts.Length > 1 ? Uri.UnescapeDataString(parts[1]) : "";
        }
        var vhost = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        return new RabbitMqEndpoint(uri.Host, uri.IsDefaultPort || uri.Port < 0 ? (ushort)(tls ? 5671 : 5672) : (ushort)uri.Port,
            vhost.Length == 0 ? "/" : vhost, user, pass, tls);
    }
}
