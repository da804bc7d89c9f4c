using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EasyIm.LoadTest.Processes;

namespace EasyIm.LoadTest.Targets;

public enum Shape
{
    Standalone,
    Distributed,
}

/// <summary>
/// EasyIm as the <c>easyim</c> executable (built beside this tool) runs it, on free loopback ports:
/// standalone as one process on SQLite in a temporary directory; distributed as four processes
/// (auth, friends, messaging, gateway) on the run's own RabbitMQ vhost and PostgreSQL database.
/// Every process's output goes to a log file in <see cref="LogDirectory"/>, counted for the report.
/// </summary>
public sealed class EasyImTarget : ILoadTarget
{
    /// <summary>Settings every server process of a load run gets (environment variables).</summary>
    public static readonly IReadOnlyDictionary<string, string> BaseSettings = new Dictionary<string, string>
    {
        ["EasyIm__ListenAddress"] = "127.0.0.1",
        ["Logging__LogLevel__Default"] = "Warning",
        ["Logging__Console__FormatterOptions__ColorBehavior"] = "Disabled",
    };

    /// <summary>
    /// What the throughput scenarios (chat, fanout, idle) relax: they measure the message path, and the
    /// limits meant for one person would refuse the tool's own traffic. The abuse scenario keeps the
    /// limits as shipped. Keys a server does not have are ignored by it.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> ThroughputSettings = new Dictionary<string, string>
    {
        // Chat pairs are strangers: what is measured is the message path, not the friendship check.
        ["Messaging__RequireFriendship"] = "false",
        // One sender sends thousands of messages a second; the per-connection and per-user limits are for people.
        ["Gateway__RateLimit__PerSecond"] = "10000000",
        ["Gateway__RateLimit__Burst"] = "10000000",
        ["Gateway__Budgets__ChatPerUser__PerSecond"] = "10000000",
        ["Gateway__Budgets__ChatPerUser__Burst"] = "10000000",
        ["Gateway__Budgets__ChatBytesPerUser__PerSecond"] = "1000000000",
        ["Gateway__Budgets__ChatBytesPerUser__Burst"] = "1000000000",
        // The default 100,000 PBKDF2 iterations make registration ~9 a second on two cores.
        ["Auth__PasswordIterations"] = "1000",
        // Every user of a run registers from 127.0.0.1: the per-address budgets would stop the tool at a few dozen.
        ["Gateway__Throttle__Login__Limit"] = "1000000",
        ["Gateway__Throttle__Register__Limit"] = "1000000",
        ["Gateway__Throttle__Refresh__Limit"] = "1000000",
        // idle --devices holds up to 100 connections per user, each with its handshake.
        ["Gateway__MaxConnectionsPerUser"] = "100000",
        ["Gateway__Budgets__HandshakesPerUser__Burst"] = "1000000",
        // fanout's owner befriends every member of its group (999 invitations and a group of 1,000 by default, 15,000 at most).
        ["Gateway__Budgets__FriendEventsPerUser__PerSecond"] = "10000000",
        ["Gateway__Budgets__FriendEventsPerUser__Burst"] = "10000000",
        ["Gateway__Budgets__ApiPerUser__PerSecond"] = "10000000",
        ["Gateway__Budgets__ApiPerUser__Burst"] = "10000000",
        ["Friends__MaxPendingFriendRequests"] = "1000000",
        ["Friends__MaxGroupMembers"] = "1000000",
    };

    private readonly List<ChildProcess> _processes;
    private readonly List<ServerStart> _starts;
    private readonly IReadOnlyDictionary<string, string> _settings;
    private readonly string _workDirectory;
    private readonly Infrastructure? _infrastructure;

    /// <summary>How one server process was started, to start it again on the same data (<see cref="RestartAsync"/>).</summary>
    private sealed record ServerStart(string Name, string[] Arguments, int ApiPort);

    private EasyImTarget(Shape shape, List<ChildProcess> processes, List<ServerStart> starts, IReadOnlyDictionary<string, string> settings,
        ChildProcess gateway, int port, int apiPort, string workDirectory, string logDirectory, Infrastructure? infrastructure)
    {
        Shape = shape;
        _processes = processes;
        _starts = starts;
        _settings = settings;
        ConnectionHolder = gateway;
        Endpoint = new IPEndPoint(IPAddress.Loopback, port);
        Api = new Uri($"http://127.0.0.1:{apiPort}");
        _workDirectory = workDirectory;
        LogDirectory = logDirectory;
        _infrastructure = infrastructure;
    }

    public Shape Shape { get; }

    public string Name => Shape == Shape.Standalone ? "easyim standalone" : "easyim distributed";

    public IPEndPoint Endpoint { get; }

    /// <summary>The gateway's HTTP API.</summary>
    public Uri Api { get; }

    public IReadOnlyList<ChildProcess> Processes => _processes;

    public ChildProcess ConnectionHolder { get; private set; }

    public string LogDirectory { get; }

    /// <summary>The standalone process's data directory (its SQLite files).</summary>
    public string DataDirectory => _workDirectory;

    /// <summary>The run's PostgreSQL database (distributed only).</summary>
    public string? Postgres => _infrastructure?.Postgres;

    /// <summary>PostgreSQL's connections during the run (distributed only).</summary>
    public PostgresConnectionSampler? PostgresConnections => _infrastructure?.PostgresSampler;

    /// <param name="extraSettings">The scenario's settings (environment variables), over <see cref="BaseSettings"/>.</param>
    public static async Task<EasyImTarget> StartAsync(Shape shape, IReadOnlyDictionary<string, string> extraSettings,
        InfrastructureOptions infrastructureOptions, string runId, string logDirectory, CancellationToken cancellationToken)
    {
        var workDirectory = Directory.CreateTempSubdirectory("easyim-load-data-").FullName;
        Infrastructure? infrastructure = null;
        var processes = new List<ChildProcess>();
        var starts = new List<ServerStart>();
        try
        {
            var settings = new Dictionary<string, string>(BaseSettings);
            foreach (var (key, value) in extraSettings)
                settings[key] = value;
            var port = FreePort();
            var apiPort = FreePort();
            ChildProcess gateway;
            if (shape == Shape.Standalone)
            {
                starts.Add(new ServerStart("easyim", ["--port", $"{port}", "--apiport", $"{apiPort}", "--data", workDirectory], apiPort));
                gateway = StartServer(starts[^1].Name, starts[^1].Arguments, settings, workDirectory, logDirectory);
                processes.Add(gateway);
                await WaitReadyAsync(gateway, apiPort, cancellationToken);
            }
            else
            {
                infrastructure = await Infrastructure.CreateAsync(infrastructureOptions, "load_" + runId, cancellationToken);
                settings["Bus__Transport"] = "RabbitMq";
                settings["ConnectionStrings__rabbitmq"] = infrastructure.RabbitMq;
                settings["Database__Provider"] = "Postgres";
                settings["ConnectionStrings__postgres"] = infrastructure.Postgres;
                var waits = new List<Task>();
                foreach (var target in new[] { "auth", "friends", "messaging" })
                {
                    var servicePort = FreePort();
                    starts.Add(new ServerStart(target, ["--target", target, "--apiport", $"{servicePort}"], servicePort));
                    var process = StartServer(target, starts[^1].Arguments, settings, workDirectory, logDirectory);
                    processes.Add(process);
                    waits.Add(WaitReadyAsync(process, servicePort, cancellationToken));
                }
                starts.Add(new ServerStart("gateway", ["--target", "gateway", "--port", $"{port}", "--apiport", $"{apiPort}"], apiPort));
                gateway = StartServer("gateway", starts[^1].Arguments, settings, workDirectory, logDirectory);
                processes.Add(gateway);
                waits.Add(WaitReadyAsync(gateway, apiPort, cancellationToken));
                await Task.WhenAll(waits);
            }
            foreach (var process in processes)
                process.Log!.MarkStarted();
            return new EasyImTarget(shape, processes, starts, settings, gateway, port, apiPort, workDirectory, logDirectory, infrastructure);
        }
        catch
        {
            foreach (var process in processes)
                await process.DisposeAsync();
            if (infrastructure is not null)
                await infrastructure.DisposeAsync();
            TryDelete(workDirectory);
            throw;
        }
    }

    private static ChildProcess StartServer(string name, string[] arguments, IReadOnlyDictionary<string, string> settings, string workDirectory, string logDirectory,
        string? logName = null)
    {
        var easyim = Path.Combine(AppContext.BaseDirectory, "easyim.dll");
        var log = new ServiceLog(name, Path.Combine(logDirectory, (logName ?? name) + ".log"));
        return ChildProcess.Start(name, "dotnet", [easyim, .. arguments], settings, workDirectory, log);
    }

    /// <summary>Polls <c>/health/ready</c> until it answers 200; a process that exits first fails it with its first errors.</summary>
    private static async Task WaitReadyAsync(ChildProcess process, int apiPort, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}"), Timeout = TimeSpan.FromSeconds(5) };
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromSeconds(120))
        {
            if (process.HasExited)
                throw new InvalidOperationException(
                    $"{process.Name} exited with code {process.ExitCode} while starting: {string.Join(" / ", process.Log!.FirstErrors)} (log: {process.Log.Path})");
            try
            {
                if ((await http.GetAsync("/health/ready", cancellationToken)).IsSuccessStatusCode)
                    return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
            }
            await Task.Delay(200, cancellationToken);
        }
        throw new TimeoutException($"{process.Name} was not ready within 120 s (log: {process.Log!.Path})");
    }

    /// <summary>
    /// Stops every server process and keeps their data (the SQLite directory, the run's database and vhost):
    /// after it, a tool may write to the stores directly, then <see cref="RestartAsync"/>.
    /// </summary>
    public async Task StopAsync()
    {
        foreach (var process in _processes)
            await process.DisposeAsync();
    }

    /// <summary>Starts the stopped processes again, on the same ports and data; returns how long until all were ready.</summary>
    public async Task<TimeSpan> RestartAsync(CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        _processes.Clear();
        var waits = new List<Task>();
        foreach (var start in _starts)
        {
            var log = $"{start.Name}-restarted";
            var process = StartServer(start.Name, start.Arguments, _settings, _workDirectory, LogDirectory, log);
            _processes.Add(process);
            if (start.Name is "easyim" or "gateway")
                ConnectionHolder = process;
            waits.Add(WaitReadyAsync(process, start.ApiPort, cancellationToken));
        }
        await Task.WhenAll(waits);
        foreach (var process in _processes)
            process.Log!.MarkStarted();
        return watch.Elapsed;
    }

    /// <summary>Kills every process, then drops the run's database and vhost, then the data directory.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
            await process.DisposeAsync();
        if (_infrastructure is not null)
            await _infrastructure.DisposeAsync();
        TryDelete(_workDirectory);
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
