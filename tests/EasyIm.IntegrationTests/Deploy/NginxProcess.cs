using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace EasyIm.IntegrationTests.Deploy;

/// <summary>
/// nginx (the system's, e.g. Debian's) run as a child process with the repository's own
/// <c>deploy/nginx.conf</c>, changed only where a test machine differs from Docker: the gateways'
/// addresses, the listen ports and Docker's resolver. Everything else (balancing method, timeouts,
/// fail-over) is the file as it ships.
/// </summary>
public sealed partial class NginxProcess : IAsyncDisposable
{
    /// <summary>Where Debian's nginx keeps its stream module (package libnginx-mod-stream) when it is not built in.</summary>
    private const string DebianStreamModule = "/usr/lib/nginx/modules/ngx_stream_module.so";

    private readonly Process _process;
    private readonly DirectoryInfo _prefix;
    private readonly StringBuilder _stderr = new();

    private NginxProcess(Process process, DirectoryInfo prefix)
    {
        _process = process;
        _prefix = prefix;
        _process.ErrorDataReceived += (_, e) => { lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.OutputDataReceived += (_, e) => { lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>The nginx executable on PATH or in the usual sbin directories, or null when it is not installed.</summary>
    public static string? Find()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/local/sbin", "/sbin"])
            .Select(dir => Path.Combine(dir, "nginx"))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// The address nginx connects to the gateways from, and so the one they trust (<c>Gateway:TrustedProxies</c>):
    /// in compose the balancer has an address of its own; on one machine it needs one too, or every client on
    /// 127.0.0.1 reaching a gateway directly (the tests' readiness checks) would be taken for the balancer.
    /// </summary>
    public const string ProxyAddress = "127.0.0.2";

    /// <summary>
    /// <c>deploy/nginx.conf</c> with the Docker-only parts replaced: each upstream's one
    /// <c>server gateway:&lt;port&gt; resolve;</c> by the given loopback ports, <c>listen 8888;</c> and
    /// <c>listen 8889;</c> by loopback ports, the resolver line removed (its addresses are fixed here),
    /// and <c>proxy_bind</c> <see cref="ProxyAddress"/> added after <c>proxy_next_upstream on;</c>.
    /// Fails, naming the part, when the file no longer has what is replaced, so that a change to it
    /// is noticed here rather than silently tested as something else.
    /// </summary>
    /// <param name="tlsDirectory">For <c>deploy/nginx-tls.conf</c>: where the certificate and key are, instead of /etc/nginx/tls.</param>
    public static string AdaptConfiguration(string shipped, IReadOnlyList<int> connectionPorts, IReadOnlyList<int> apiPorts,
        int listenConnections, int listenApi, string? tlsDirectory = null)
    {
        var text = shipped;
        if (tlsDirectory is not null)
        {
            text = ReplaceOnce(text, new Regex(@"\bssl_certificate\s+/etc/nginx/tls/server\.crt\s*;"), $"ssl_certificate {tlsDirectory}/server.crt;");
            text = ReplaceOnce(text, new Regex(@"\bssl_certificate_key\s+/etc/nginx/tls/server\.key\s*;"), $"ssl_certificate_key {tlsDirectory}/server.key;");
        }
        text = ReplaceOnce(text, ResolverLine(), "");
        text = ReplaceOnce(text, NextUpstreamLine(), $"proxy_next_upstream on;\n    proxy_bind {ProxyAddress};");
        text = ReplaceOnce(text, UpstreamServer("8888"), Servers(connectionPorts));
        text = ReplaceOnce(text, UpstreamServer("8889"), Servers(apiPorts));
        text = ReplaceOnce(text, Listen("8888"), $"listen 127.0.0.1:{listenConnections}$1;");
        text = ReplaceOnce(text, Listen("8889"), $"listen 127.0.0.1:{listenApi}$1;");
        return text;

        static string Servers(IEnumerable<int> ports) => string.Join(" ", ports.Select(p => $"server 127.0.0.1:{p};"));
    }

    private static string ReplaceOnce(string text, Regex pattern, string replacement)
    {
        var count = pattern.Matches(text).Count;
        if (count != 1)
            throw new InvalidOperationException(
                $"deploy/nginx.conf has {count} matches of /{pattern}/ where the test expects one: update NginxProcess.AdaptConfiguration with the file.");
        return pattern.Replace(text, replacement);
    }

    [GeneratedRegex(@"^\s*resolver\s+127\.0\.0\.11\b[^;]*;", RegexOptions.Multiline)]
    private static partial Regex ResolverLine();

    [GeneratedRegex(@"\bproxy_next_upstream\s+on\s*;")]
    private static partial Regex NextUpstreamLine();

    private static Regex UpstreamServer(string port) => new($@"\bserver\s+gateway:{port}\s+resolve\s*;");

    /// <summary>A listen line, its <c>ssl</c> parameter (if any) kept as group 1.</summary>
    private static Regex Listen(string port) => new($@"\blisten\s+{port}(\s+ssl)?\s*;");

    /// <summary>Starts nginx in the foreground on <paramref name="configuration"/> and waits until it listens.</summary>
    public static async Task<NginxProcess> StartAsync(string nginx, string configuration, TimeSpan timeout)
    {
        var prefix = Directory.CreateTempSubdirectory("easyim-nginx-");
        var header = File.Exists(DebianStreamModule) ? $"load_module {DebianStreamModule};\n" : "";
        var confPath = Path.Combine(prefix.FullName, "nginx.conf");
        await File.WriteAllTextAsync(confPath, header + configuration);

        var info = new ProcessStartInfo(nginx)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // -e: the start-up log goes to stderr, not to a system path an unprivileged user cannot write.
        // As root (CI) the master keeps root and its workers run as nginx's default unprivileged user.
        foreach (var arg in new[] { "-p", prefix.FullName + "/", "-c", confPath, "-e", "stderr",
                     "-g", $"daemon off; pid {Path.Combine(prefix.FullName, "nginx.pid")}; error_log stderr notice; worker_processes 1;" })
            info.ArgumentList.Add(arg);
        var nginxProcess = new NginxProcess(Process.Start(info)!, prefix);
        try
        {
            await nginxProcess.WaitUntilListeningAsync(timeout);
            return nginxProcess;
        }
        catch
        {
            await nginxProcess.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The master binds every listen socket before it starts its workers, and says so at level notice.
    /// Waiting for that line, rather than connecting, leaves the gateways without a stray connection.
    /// </summary>
    private async Task WaitUntilListeningAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Stderr.Contains("start worker process", StringComparison.Ordinal))
        {
            if (_process.HasExited)
                throw new InvalidOperationException(
                    $"nginx exited with {_process.ExitCode} at start (Debian: apt-get install nginx libnginx-mod-stream):\n{Stderr}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"nginx did not start its workers within {timeout}:\n{Stderr}");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // The master and its workers: a worker outliving its master would keep the ports.
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        _prefix.Delete(recursive: true);
    }
}
