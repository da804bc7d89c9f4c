using System.Net.Sockets;
using EasyIm.Hosting;

namespace EasyIm.Server;

/// <summary>
/// <c>easyim --stop</c>, as easyim has it: asks the server on this machine to stop (POST
/// <c>/api/local/stop</c> on 127.0.0.1 and the API port the configuration names) and waits until it
/// no longer answers. Exit code 0: it stopped; 1: nothing answered there, or it did not stop in time.
/// </summary>
public static class StopCommand
{
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string[] args, IReadOnlyDictionary<string, string?> overrides, CancellationToken cancellationToken)
    {
        int apiPort = 0;
        var read = await Cli.Guarded(() =>
        {
            apiPort = EasyImHost.ReadConfiguration(args, overrides).GetPort(Listening.ApiPortKey, Cli.DefaultApiPort);
            return Task.CompletedTask;
        });
        if (read != 0)
            return read;
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}"), Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            using var response = await http.PostAsync("/api/local/stop", null, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                await Console.Error.WriteLineAsync($"easyim: 127.0.0.1:{apiPort} answered {(int)response.StatusCode} to /api/local/stop " +
                    "(is it an easyim running the gateway? other targets stop with Ctrl-C or a signal)");
                return 1;
            }
        }
        catch (HttpRequestException ex) when (ex.InnerException is SocketException)
        {
            await Console.Error.WriteLineAsync($"easyim: nothing listens on 127.0.0.1:{apiPort} ({ex.InnerException.Message}); give the server's --apiport");
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
}
