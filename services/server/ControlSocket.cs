using System.Net.Sockets;
using System.Text;
using EasyIm.Hosting;

namespace EasyIm.Server;

/// <summary>
/// The channel of <c>easyim --stop</c>: a Unix domain socket, by default <c>easyim-&lt;apiport&gt;.sock</c> in the
/// data directory, that only the server's own user may open (mode 0600, set before it listens). A web page
/// cannot reach a Unix socket, and another user of the machine cannot open it, unlike the HTTP route it
/// replaces (loopback is not a person: every browser tab and local proxy is loopback).
/// The protocol is one line each way: <c>stop</c>, answered <c>stopping</c>; anything else is answered
/// <c>unknown command</c> and closed.
/// </summary>
public sealed class ControlSocket(string path, IHostApplicationLifetime lifetime, ILogger<ControlSocket> logger) : IHostedService, IDisposable
{
    public const string PathKey = "EasyIm:ControlSocket";
    public const string StopCommand = "stop";
    public const string Stopping = "stopping";

    /// <summary>The longest path a Unix socket address holds (sockaddr_un's 108 bytes less the NUL on Linux; 104 on macOS).</summary>
    public const int MaxPathBytes = 103;

    private const int MaxCommandBytes = 64;
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Task _accepting = Task.CompletedTask;

    public string Path { get; } = path;

    /// <summary>
    /// The socket's path for a configuration: <c>EasyIm:ControlSocket</c>, else <c>easyim-&lt;apiport&gt;.sock</c> in
    /// <c>EasyIm:DataDirectory</c> (relative to the working directory, as the server resolves it). The API
    /// port makes it one per process even where processes share a data directory. Creates nothing.
    /// </summary>
    public static string PathFor(IConfiguration configuration)
    {
        if (configuration[PathKey] is { Length: > 0 } configured)
            return System.IO.Path.GetFullPath(configured);
        var data = System.IO.Path.GetFullPath(configuration[EasyImConfiguration.DataDirectoryKey] is { Length: > 0 } dir ? dir : "data");
        return System.IO.Path.Combine(data, $"easyim-{configuration.GetPort(Listening.ApiPortKey, Cli.DefaultApiPort)}.sock");
    }

    /// <summary>Whether a socket can be made at <paramref name="path"/> on this system.</summary>
    public static bool Fits(string path) => Encoding.UTF8.GetByteCount(path) <= MaxPathBytes && Socket.OSSupportsUnixDomainSockets;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!Fits(Path))
        {
            // Only the default path gets here (a configured one that cannot work stops the start): a deep data
            // directory must not keep the server from running, only --stop from reaching it.
            logger.LogWarning("No control socket: {ControlSocket} is longer than a Unix socket path may be ({MaxBytes} bytes); " +
                "set {Key} to a shorter path for easyim --stop to reach this process", Path, MaxPathBytes, PathKey);
            return;
        }
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        if (File.Exists(Path))
        {
            if (await AnswersAsync(Path, cancellationToken))
                throw new StartupException($"Another easyim answers on its control socket {Path}: stop it (easyim --stop), or give this one another --apiport or {PathKey}.");
            // Left by a process that did not stop cleanly.
            File.Delete(Path);
        }
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(Path));
            // Before listen(): no one else can connect in between.
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(4);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        _listener = listener;
        _accepting = AcceptAsync(listener);
        logger.LogInformation("easyim --stop listens on {ControlSocket}", Path);
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
        if (_listener is not null)
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
