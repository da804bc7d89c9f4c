using System.Globalization;
using System.Net.Http.Json;
using EasyIm.IntegrationTests.Server;
using EasyIm.IntegrationTests.Shapes;
using EasyIm.IntegrationTests.Telemetry;

namespace EasyIm.IntegrationTests.Deploy;

/// <summary>
/// <c>EasyIm:ManagementPort</c> (compose sets 8890 and publishes it nowhere): health, metrics and the API reference are
/// served there only, and nothing else is; the API port answers 404 for them whatever Host header a client writes; the
/// container probe finds the port by itself. A real standalone process.
/// </summary>
public sealed class ManagementPortTests
{
    [Fact]
    public async Task Internal_endpoints_move_to_the_management_port_and_the_api_port_no_longer_serves_them()
    {
        var management = TestInfrastructure.FreePort();
        await using var server = await ServerProcesses.StandaloneAsync(new Dictionary<string, string>
        {
            ["EasyIm__ManagementPort"] = management.ToString(CultureInfo.InvariantCulture),
        });
        using var internals = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{management}"), Timeout = TimeSpan.FromSeconds(30) };
        string[] paths = ["/health/live", "/health/ready", "/metrics", "/openapi/v1.json", "/scalar"];

        foreach (var path in paths)
        {
            Assert.Equal(200, (int)(await internals.GetAsync(path)).StatusCode);
            Assert.Equal(404, (int)(await server.Http.GetAsync(path)).StatusCode);
            // The Host header is the client's to write: it does not open the internal endpoints on the API port.
            using var spoofed = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { Host = $"127.0.0.1:{management}" } };
            Assert.Equal(404, (int)(await server.Http.SendAsync(spoofed)).StatusCode);
        }
        // The API and the web client stay on the API port, and only there.
        var user = await server.NewUserAsync();
        Assert.Equal(200, (int)(await server.Http.GetAsync("/")).StatusCode);
        Assert.Equal(404, (int)(await internals.PostAsync("/api/user/login", JsonContent.Create(new { account = user.Account, password = user.Password }))).StatusCode);
        Assert.Equal(404, (int)(await internals.GetAsync("/")).StatusCode);
        Assert.Contains($"management 127.0.0.1:{management}", server.Processes[0].Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_container_probe_uses_the_management_port_when_it_is_set()
    {
        var management = TestInfrastructure.FreePort();
        await using var server = await ServerProcesses.StandaloneAsync(new Dictionary<string, string>
        {
            ["EasyIm__ManagementPort"] = management.ToString(CultureInfo.InvariantCulture),
        });

        var byEnvironment = await HealthProbeTests.RunProbeAsync(new Dictionary<string, string> { ["EasyIm__ManagementPort"] = management.ToString(CultureInfo.InvariantCulture) });
        var onTheApiPort = await HealthProbeTests.RunProbeAsync(server.ApiPort.ToString(CultureInfo.InvariantCulture));

        Assert.True(byEnvironment.ExitCode == 0, byEnvironment.Output);
        Assert.NotEqual(0, onTheApiPort.ExitCode);
        Assert.Contains("404", onTheApiPort.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_management_port_equal_to_the_api_port_is_refused_at_start_naming_both_settings()
    {
        var port = TestInfrastructure.FreePort();
        await using var process = EasyImProcess.Start(["--apiport", port.ToString(CultureInfo.InvariantCulture)], environment: new Dictionary<string, string>
        {
            ["EasyIm__ManagementPort"] = port.ToString(CultureInfo.InvariantCulture),
            ["EasyIm__DataDirectory"] = Path.Combine(Path.GetTempPath(), "easyim-mgmt-" + Guid.NewGuid().ToString("N")),
        });

        Assert.NotEqual(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("EasyIm:ManagementPort must differ from Gateway:ApiPort", process.Stdout + process.Stderr, StringComparison.Ordinal);
    }
}
