using System.Globalization;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Server;

/// <summary>easyim's own command line, run as a process: --help, --stop, the start-up banner, and settings the options must not hide.</summary>
public sealed class CliOptionsTests : IDisposable
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _workDir = Directory.CreateTempSubdirectory("easyim-cli-");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _workDir.Delete(recursive: true);
    }

    [Fact]
    public async Task Help_lists_every_option_with_its_default_and_the_migrate_command()
    {
        await using var process = EasyImProcess.Start(["--help"], _workDir.FullName);

        Assert.Equal(0, await process.WaitForExitAsync(ExitTimeout));
        var help = process.Stdout;
        Assert.Matches(@"--target <target>.*\[default: all\]", help);
        Assert.Matches(@"--port <port>.*\[default: 8888\]", help);
        Assert.Matches(@"--apiport <apiport>.*\[default: 8889\]", help);
        Assert.Matches(@"--data <data>.*\[default: \./data\]", help);
        Assert.Contains("--list-targets", help);
        Assert.Contains("--stop", help);
        Assert.Matches(@"migrate\s+Apply the database migrations", help);
    }

    [Fact]
    public async Task The_banner_says_shape_targets_bus_store_and_where_it_listens_then_stop_stops_it()
    {
        var apiPort = TestInfrastructure.FreePort();
        var socketPort = TestInfrastructure.FreePort();
        await using var server = EasyImProcess.Start(
            ["--port", Text(socketPort), "--apiport", Text(apiPort), "--data", "store", "--EasyIm:ListenAddress=127.0.0.1"], _workDir.FullName);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
        await server.WaitUntilReadyAsync(http);
        await WaitForOutputAsync(server, "  stop ");

        var banner = server.Stdout;
        Assert.Contains("standalone shape, --target all", banner);
        Assert.Contains("bus        in-memory", banner);
        Assert.Contains($"store      SQLite, files in {Path.Combine(_workDir.FullName, "store")}", banner);
        Assert.Contains($"sockets    127.0.0.1:{socketPort}", banner);
        Assert.Contains($"http       127.0.0.1:{apiPort}", banner);
        Assert.Contains("tracing    off", banner);

        await using var stop = EasyImProcess.Start(["--stop", "--apiport", Text(apiPort)], _workDir.FullName);
        Assert.Equal(0, await stop.WaitForExitAsync(ExitTimeout));
        Assert.Contains("stopped", stop.Stdout);
        Assert.Equal(0, await server.WaitForExitAsync(ExitTimeout));
    }

    [Fact]
    public async Task Stop_reads_the_api_port_from_the_environment_like_the_server()
    {
        var apiPort = TestInfrastructure.FreePort();
        var environment = new Dictionary<string, string> { ["Gateway__ApiPort"] = Text(apiPort), ["Gateway__Port"] = Text(TestInfrastructure.FreePort()) };
        await using var server = EasyImProcess.Start([], _workDir.FullName, environment);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
        await server.WaitUntilReadyAsync(http);

        await using var stop = EasyImProcess.Start(["--stop"], _workDir.FullName, environment);

        Assert.Equal(0, await stop.WaitForExitAsync(ExitTimeout));
        Assert.Equal(0, await server.WaitForExitAsync(ExitTimeout));
    }

    [Fact]
    public async Task Stop_with_nothing_listening_fails_naming_the_port()
    {
        var apiPort = TestInfrastructure.FreePort();

        await using var stop = EasyImProcess.Start(["--stop", "--apiport", Text(apiPort)], _workDir.FullName);

        Assert.Equal(1, await stop.WaitForExitAsync(ExitTimeout));
        Assert.Contains($"nothing listens on 127.0.0.1:{apiPort}", stop.Stderr);
    }

    [Fact]
    public async Task Stop_with_a_bad_port_setting_names_the_key()
    {
        await using var stop = EasyImProcess.Start(["--stop", "--Gateway:ApiPort=eighty"], _workDir.FullName);

        Assert.Equal(2, await stop.WaitForExitAsync(ExitTimeout));
        Assert.Contains("Gateway:ApiPort", stop.Stderr);
    }

    [SkippableFact]
    public async Task The_local_stop_route_refuses_callers_from_other_machines()
    {
        // Only a loopback caller may stop the server: reach it over a non-loopback address of this machine, if it has one.
        var other = System.Net.Dns.GetHostAddresses(System.Net.Dns.GetHostName())
            .FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !System.Net.IPAddress.IsLoopback(a));
        Skip.If(other is null, "this machine has no non-loopback IPv4 address");
        var apiPort = TestInfrastructure.FreePort();
        await using var server = EasyImProcess.Start(["--apiport", Text(apiPort), "--port", Text(TestInfrastructure.FreePort())], _workDir.FullName);
        using var local = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
        await server.WaitUntilReadyAsync(local);
        using var remote = new HttpClient { BaseAddress = new Uri($"http://{other}:{apiPort}") };

        var refused = await remote.PostAsync("/api/local/stop", null);

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.True((await local.GetAsync("/health/live")).IsSuccessStatusCode);
    }

    private static string Text(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static async Task WaitForOutputAsync(EasyImProcess process, string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!process.Stdout.Contains(text, StringComparison.Ordinal))
            await Task.Delay(50, timeout.Token);
    }
}
