using System.Net;
using System.Net.Sockets;
using EasyIm.IntegrationTests.Server;

namespace EasyIm.BrowserTests;

/// <summary>
/// The standalone <c>easyim</c> executable as a process on free loopback ports with its own data
/// directory; it can be killed and started again on the same ports and data, as after a crash.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly DirectoryInfo _workDir = Directory.CreateTempSubdirectory("easyim-web-");
    private readonly int _port = FreePort();
    private readonly int _apiPort = FreePort();
    private readonly string[] _settings;
    private EasyImProcess? _process;

    private readonly int? _managementPort;

    private ServerProcess(string[] settings, int? managementPort = null)
    {
        _settings = settings;
        _managementPort = managementPort;
    }

    /// <summary>Serving HTTPS and WSS with this certificate (<c>EasyIm:Tls</c>).</summary>
    public bool Tls { get; private init; }

    /// <summary>Where the web client is: the API port, as a user opens it.</summary>
    public Uri BaseAddress => new($"{(Tls ? "https" : "http")}://127.0.0.1:{_apiPort}/");

    public int Port => _port;
    public int ApiPort => _apiPort;

    /// <summary>The long-connection port, whose HTTP is served like the API port's.</summary>
    public Uri SocketPortAddress => new($"http://127.0.0.1:{_port}/");

    /// <param name="settings">More command-line settings (<c>--Key=value</c>), e.g. short-lived tokens.</param>
    public static async Task<ServerProcess> StartAsync(params string[] settings)
    {
        var server = new ServerProcess(settings);
        await server.StartProcessAsync();
        return server;
    }

    /// <summary>With a certificate: HTTPS and WSS; health on a management port of its own (plain HTTP, which the probe speaks).</summary>
    public static async Task<ServerProcess> StartTlsAsync(string certificatePath, string keyPath)
    {
        var management = FreePort();
        var server = new ServerProcess(
            [$"--EasyIm:Tls:CertificatePath={certificatePath}", $"--EasyIm:Tls:KeyPath={keyPath}", $"--EasyIm:ManagementPort={management}"], management)
        {
            Tls = true,
        };
        await server.StartProcessAsync();
        return server;
    }

    /// <summary>Kills the process (no graceful stop: what a crash does); <see cref="StartProcessAsync"/> brings it back on the same ports and data.</summary>
    public async Task KillAsync()
    {
        if (_process is not null)
            await _process.DisposeAsync();
        _process = null;
    }

    public async Task StartProcessAsync()
    {
        _process = EasyImProcess.Start(
            ["--port", _port.ToString(), "--apiport", _apiPort.ToString(), "--EasyIm:ListenAddress=127.0.0.1",
             // Registration is on the path of every test; the production hash cost buys nothing here.
             "--Auth:PasswordIterations=1000", .. _settings],
            _workDir.FullName);
        await _process.WaitUntilReadyAsync(_managementPort ?? _apiPort, StartTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _workDir.Delete(recursive: true);
    }

    private static int FreePort() => TestPorts.Free();
}
