using System.Net.Sockets;
using System.Text;
using EasyIm.Hosting;

namespace EasyIm.Server;

/// <summary>
/// <c>easyim --stop</c>: asks the server on this machine to stop through its <see cref="ControlSocket"/> (a Unix
/// socket in its data directory that only its user may open, found from the same settings the server reads:
/// <c>--data</c> and <c>--apiport</c>, or <c>EasyIm:ControlSocket</c>) and waits until its API port no longer
/// takes connections. Exit code 0: it stopped; 1: nothing answered there, or it did not stop in time.
/// </summary>
public static class StopCommand
{
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string[] args, IReadOnlyDictionary<string, string?> overrides, CancellationToken cancellationToken)
    {
        int apiPort = 0;
        IReadOnlyList<string> candidates = [];
        var read = await Cli.Guarded(() =>
        {
            var configuration = EasyImHost.ReadConfiguration(args, overrides);
            apiPort = configuration.GetPort(Listening.ApiPortKey, Cli.DefaultApiPort);
            candidates = ControlSocket.Candidates(configuration);
            return Task.CompletedTask;
        });
        if (read != 0)
            return read;

        var answer = await AskToStopAsync(candidates, apiPort, cancellationToken);
        if (answer is not null)
        {
            await Console.Error.WriteLineAsync(answer);
            return 1;
        }
        Console.WriteLine($"easyim on 127.0.0.1:{apiPort} is stopping");

        // Stopped means its port no longer takes connections (the host closes its listeners first, then drains).
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StopTimeout);
        try
        {
            while (true)
            {
                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync("127.0.0.1", apiPort, timeout.Token);
                }
                catch (SocketException)
                {
                    Console.WriteLine("stopped");
                    return 0;
                }
                await Task.Delay(100, timeout.Token);
            }
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"easyim: 127.0.0.1:{apiPort} still takes connections after {StopTimeout.TotalSeconds:0} s");
            return 1;
        }
    }

    /// <summary>
    /// Sends <c>stop</c> on the first control socket that answers; null when the server answered that it is
    /// stopping, else what went wrong.
    /// </summary>
    private static async Task<string?> AskToStopAsync(IReadOnlyList<string> candidates, int apiPort, CancellationToken cancellationToken)
    {
        string? failure = null;
        foreach (var path in candidates.Where(File.Exists))
        {
            failure = await AskToStopAsync(path, apiPort, cancellationToken);
            if (failure is null)
                return null;
        }
        return failure ?? $"easyim: nothing listens on 127.0.0.1:{apiPort}: no control socket at {string.Join(", ", candidates)}; " +
            $"give the server's --apiport (and its {ControlSocket.PathKey}, if it has one)";
    }

    private static async Task<string?> AskToStopAsync(string path, int apiPort, CancellationToken cancellationToken)
    {
        var where = $"give the server's --apiport (and its {ControlSocket.PathKey}, if it has one)";
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), timeout.Token);
            await socket.SendAsync(Encoding.ASCII.GetBytes(ControlSocket.StopCommand + "\n"), SocketFlags.None, timeout.Token);
            var reply = await ControlSocket.ReadLineAsync(socket, timeout.Token);
            return reply == ControlSocket.Stopping ? null : $"easyim: {path} answered '{reply}' to stop";
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AccessDenied)
        {
            return $"easyim: not allowed to open {path}: only the user the server runs as may stop it";
        }
        catch (SocketException ex)
        {
            return $"easyim: nothing listens on 127.0.0.1:{apiPort}: its control socket {path} does not answer ({ex.Message}); {where}";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"easyim: {path} did not answer within 10 s";
        }
    }
}
