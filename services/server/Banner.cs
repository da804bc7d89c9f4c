using System.Reflection;
using EasyIm.Hosting;
using EasyIm.Hosting.Bus;
using EasyIm.Hosting.Database;
using Npgsql;

namespace EasyIm.Server;

/// <summary>
/// What a started process tells whoever started it: its shape and targets, its bus and store, where it
/// listens, and how to stop it. Secrets (passwords in the bus address or connection strings) are left out.
/// </summary>
public static class Banner
{
    public static string Describe(IConfiguration configuration, IReadOnlyList<Module> modules, IEnumerable<string> addresses)
    {
        var version = typeof(Banner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "";
        var all = modules.Count == Targets.Modules.Count;
        var names = string.Join(",", modules.Select(m => m.Name));
        var runsGateway = modules.Any(m => m.Name == Targets.Gateway);
        var apiPort = configuration.GetPort(Listening.ApiPortKey, 8889);
        var socketPort = configuration.GetPort("Gateway:Port", 8888);
        var listening = addresses.Select(a => new Uri(a)).ToList();

        var lines = new List<string>
        {
            $"EasyIm {version}: {(configuration.GetBusTransport() == BusTransport.InMemory ? "standalone" : "distributed")} shape, --target {(all ? Targets.All : names)} (pid {Environment.ProcessId})",
            $"  services   {string.Join(", ", modules.Select(m => m.Name))}",
            $"  bus        {Bus(configuration)}",
        };
        if (modules.Any(m => m.Needs.Contains("database", StringComparison.Ordinal)))
            lines.Add($"  store      {Store(configuration, modules)}");
        if (runsGateway)
            lines.Add($"  sockets    {Where(listening, socketPort)}: long connections, raw TCP (JSON lines or protobuf) and WebSocket (/ws)");
        var internals = (runsGateway ? "reference /scalar, OpenAPI /openapi/v1.json, " : "") + "/health/live, /health/ready, /metrics";
        if (configuration.GetManagementPort() is > 0 and var management)
        {
            if (runsGateway)
                lines.Add($"  http       {Where(listening, apiPort)}: HTTP API");
            lines.Add($"  management {Where(listening, management)}: {internals}");
        }
        else
        {
            lines.Add($"  http       {Where(listening, apiPort)}: " + (runsGateway ? $"HTTP API ({internals})" : internals));
        }
        lines.Add($"  tracing    {(configuration[ServiceDefaults.OtlpEndpointKey] is { Length: > 0 } otlp ? $"OTLP to {otlp}" : $"off (set {ServiceDefaults.OtlpEndpointKey} to export)")}");
        lines.Add($"  stop       Ctrl-C, or: easyim --stop --apiport {apiPort}");
        return string.Join(Environment.NewLine, lines);
    }

    private static string Where(List<Uri> listening, int port)
    {
        var matches = listening.Where(u => u.Port == port || port == 0).Select(u => $"{u.Host}:{u.Port}").Distinct().ToList();
        return matches.Count > 0 ? string.Join(", ", matches) : $"port {port}";
    }

    private static string Bus(IConfiguration configuration)
    {
        if (configuration.GetBusTransport() == BusTransport.InMemory)
            return "in-memory (this process only)";
        var address = configuration[BusSetup.RabbitMqConnectionKey];
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri))
            return "RabbitMQ";
        return $"RabbitMQ {new UriBuilder(uri) { UserName = "", Password = "" }.Uri}";
    }

    private static string Store(IConfiguration configuration, IReadOnlyList<Module> modules)
    {
        if (configuration.GetDatabaseProvider() == DatabaseProvider.Sqlite)
            return $"SQLite, files in {configuration.GetDataDirectory()}";
        var databases = modules.Where(m => m.Needs.Contains("database", StringComparison.Ordinal)).Select(m =>
        {
            try
            {
                var builder = new NpgsqlConnectionStringBuilder(DatabaseSetup.PostgresConnectionString(configuration, m.Name));
                return $"{m.Name}: {builder.Host}:{builder.Port}/{builder.Database}";
            }
            catch (Exception ex) when (ex is StartupException or ArgumentException)
            {
                return $"{m.Name}: ?";
            }
        });
        return "PostgreSQL, " + string.Join("; ", databases.Distinct());
    }
}
