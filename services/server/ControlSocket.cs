using System.Net.Sockets;
using System.Text;
using EasyIm.Hosting;

namespace EasyIm.Server;

/// <summary>
/// The channel of <c>easyim --stop</c>: a Unix domain socket named after the API port, <c>easyim-&lt;apiport&gt;.sock</c>,
/// that only the server's own user may open (mode 0600, set before it listens, in a directory only that user may
/// write). A web page cannot reach a Unix socket, and another user of the machine cannot open it, unlike the
/// HTTP route it replaces (loopback is not a person: every browser tab and local proxy is loopback).
/// Where: <c>EasyIm:ControlSocket</c> when set; else the user's runtime directory (<c>$XDG_RUNTIME_DIR</c>), else
/// <c>easyim-&lt;user&gt;</c> in the temporary directory, else the data directory: the first that works, so that
/// <c>easyim --stop --apiport N</c> finds it from anywhere, as it found the HTTP route.
/// The protocol is one line each way: <c>stop</c>, answered <c>stopping</c>; anything else is answered
/// <c>unknown command</c> and closed.
/// </summary>
public sealed class ControlSocket(IReadOnlyList<string> candidates, IHostApplicationLifetime lifetime, ILogger<ControlSocket> logger) : IHostedService, IDisposable
{
    public const string PathKey = "EasyIm:ControlSocket";
    public const string StopCommand = "stop";
    public const string Stopping = "stopping";

    /// <summary>The longest path a Unix socket address holds (sockaddr_un's 108 bytes less the NUL on Linux; 104 on macOS).</summary>
    public const int MaxPathBytes = 103;

    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const int MaxCommandBytes = 64;
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Task _accepting = Task.CompletedTask;

    /// <summary>Where the socket is, once started; null when none of the places would take it.</summary>
    public string? Path { get; private set; }

    /// <summary>
    /// Where the socket of a process with this configuration may be, in the order the server tries them:
    /// <c>EasyIm:ControlSocket</c> alone when set, else the runtime directory, the temporary one and the data
    /// directory (relative to the working directory, as the server resolves it). Creates nothing.
    /// </summary>
    public static IReadOnlyList<string> Candidates(IConfiguration configuration)
    {
        if (configuration[PathKey] is { Length: > 0 } configured)
            return [System.IO.Path.GetFullPath(configured)];
        var apiPort = configuration.GetPort(Listening.ApiPortKey, Cli.DefaultApiPort);
        // A port chosen by the system names no one process: --stop could not find it, and two would collide.
        if (apiPort == 0)
            return [];
        var name = $"easyim-{apiPort}.sock";
        var places = new List<string>();
        if (Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime && System.IO.Path.IsPathRooted(runtime))
            places.Add(System.IO.Path.Combine(runtime, name));
        places.Add(System.IO.Path.Combine(OwnTemporaryDirectory, name));
        var data = System.IO.Path.GetFullPath(configuration[EasyImConfiguration.DataDirectoryKey] is { Length: > 0 } dir ? dir : "data");
        places.Add(System.IO.Path.Combine(data, name));
        return places;
    }

    private static string OwnTemporaryDirectory => System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"easyim-{Environment.UserName}");

    /// <summary>Whether a socket can be made at <paramref name="path"/> on this system.</summary>
    public static bool Fits(string path) => Encoding.UTF8.GetByteCount(path) <= MaxPathBytes && Socket.OSSupportsUnixDomainSockets;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (candidates.Count == 0)
        {
            logger.LogInformation("No control socket for an API port the system chose; set {Key} for easyim --stop to reach this process", PathKey);
            return;
        }
        var refusals = new List<string>();
        foreach (var path in candidates)
        {
            if (await TryListenAsync(path, refusals, cancellationToken) is { } listener)
            {
                _listener = listener;
                Path = path;
                _accepting = AcceptAsync(listener);
                logger.LogInformation("easyim --stop listens on {ControlSocket}", path);
                return;
            }
        }
        // A server that cannot be stopped by --stop still serves (Ctrl-C and signals stop it).
        logger.LogWarning("No control socket, so easyim --stop cannot reach this process ({Reasons}); set {Key} to a short path in a directory only this user may write",
            string.Join("; ", refusals), PathKey);
    }

    private async Task<Socket?> TryListenAsync(string path, List<string> refusals, CancellationToken cancellationToken)
    {
        if (!Fits(path))
        {
            refusals.Add($"{path} is longer than a Unix socket path may be");
            return null;
        }
        var directory = System.IO.Path.GetDirectoryName(path)!;
        try
        {
            // The temporary directory is everyone's: it is used only through a directory of our own, 0700. One that
            // someone else made first is wider (refused here) or not writable by us (the bind fails).
            if (directory == OwnTemporaryDirectory && !OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory, OwnerOnlyDirectory);
                if (File.GetUnixFileMode(directory) != OwnerOnlyDirectory)
                {
                    refusals.Add($"{directory} is not this user's alone (mode {File.GetUnixFileMode(directory)})");
                    return null;
                }
            }
            else
            {
                Directory.CreateDirectory(directory);
            }
            if (File.Exists(path))
            {
                if (await AnswersAsync(path, cancellationToken))
                    throw new StartupException($"Another easyim answers on the control socket {path}: stop it (easyim --stop), or give this one another --apiport or {PathKey}.");
                // Left by a process that did not stop cleanly.
                File.Delete(path);
            }
            var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                listener.Bind(new UnixDomainSocketEndPoint(path));
                // Before listen(): no one else can connect in between.
                if (!OperatingSystem.IsWindows())
                    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                listener.Listen(4);
                return listener;
            }
            catch
            {
                listener.Dispose();
                throw;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SocketException)
        {
            refusals.Add($"{path}: {ex.Message}");
            return null;
        }
    }

    private async Task AcceptAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            // One at a time: a stop is rare, and a caller that holds the socket open only delays the next.
            await ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var _ = client;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        timeout.CancelAfter(CommandTimeout);
        try
        {
            var command = await ReadLineAsync(client, timeout.Token);
            if (command != StopCommand)
            {
                await client.SendAsync("unknown command\n"u8.ToArray(), SocketFlags.None, timeout.Token);
                return;
            }
            logger.LogInformation("Stop asked on {ControlSocket}", Path);
            await client.SendAsync(Encoding.ASCII.GetBytes(Stopping + "\n"), SocketFlags.None, timeout.Token);
            client.Shutdown(SocketShutdown.Both);
            // Answered first; the host then stops listening, drains and exits.
            lifetime.StopApplication();
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
        {
            logger.LogDebug("A caller on {ControlSocket} went away: {Reason}", Path, ex.Message);
        }
    }

    /// <summary>One line of at most <see cref="MaxCommandBytes"/> bytes, without its newline; null when longer or cut short.</summary>
    internal static async Task<string?> ReadLineAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxCommandBytes];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellationToken);
            if (read == 0)
                return null;
            var newline = Array.IndexOf(buffer, (byte)'\n', length, read);
            length += read;
            if (newline >= 0)
                return Encoding.ASCII.GetString(buffer, 0, newline).TrimEnd('\r');
        }
        return null;
    }

    private static async Task<bool> AnswersAsync(string path, CancellationToken cancellationToken)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        _listener?.Dispose();
        await _accepting;
        if (Path is not null)
        {
            try
            {
                File.Delete(Path);
            }
            catch (IOException)
            {
            }
        }
    }

    public void Dispose()
    {
        _stopping.Dispose();
        _listener?.Dispose();
    }
}
