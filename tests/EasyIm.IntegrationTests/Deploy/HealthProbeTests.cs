using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Deploy;

/// <summary>
/// <c>deploy/health.sh</c>, the container health check of the image, of compose's services and of
/// its lb: run with bash as Docker runs it, against a real server and against what is not one.
/// </summary>
[Collection(StandaloneCollection.Name)]
public sealed class HealthProbeTests(StandaloneShape shape)
{
    /// <summary>Runs the probe with <paramref name="args"/> and returns its exit code and everything it wrote.</summary>
    public static Task<(int ExitCode, string Output)> RunProbeAsync(params string[] args) => RunProbeAsync(new Dictionary<string, string>(), args);

    /// <summary>Runs the probe with <paramref name="environment"/> set and <paramref name="args"/>.</summary>
    public static async Task<(int ExitCode, string Output)> RunProbeAsync(IDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "deploy", "health.sh"));
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        info.Environment.Remove("Gateway__ApiPort");
        info.Environment.Remove("EasyIm__ManagementPort");
        foreach (var (key, value) in environment)
            info.Environment[key] = value;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    [Fact]
    public async Task The_probe_passes_when_the_server_is_ready()
    {
        var (exitCode, output) = await RunProbeAsync(shape.ApiPort.ToString());

        Assert.True(exitCode == 0, output);
    }

    [Fact]
    public async Task The_probe_fails_on_an_answer_other_than_200()
    {
        var (exitCode, output) = await RunProbeAsync(shape.ApiPort.ToString(), "/health/no-such-check");

        Assert.Equal(1, exitCode);
        Assert.Matches(@"answered 'HTTP/1\.1 4\d\d ", output); // the status line, for docker inspect
    }

    [Fact]
    public async Task The_probe_fails_when_nothing_listens()
    {
        var (exitCode, output) = await RunProbeAsync(TestInfrastructure.FreePort().ToString());

        Assert.Equal(1, exitCode);
        Assert.Contains("nothing listens", output);
    }

    [Fact]
    public async Task The_probe_gives_up_on_a_listener_that_never_answers()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var accepting = silent.AcceptSocketAsync();

        var (exitCode, output) = await RunProbeAsync(port.ToString());

        Assert.Equal(1, exitCode);
        Assert.Contains("answered ''", output);
        (await accepting).Dispose();
    }
}
