using System.Globalization;
using Microsoft.Extensions.Configuration;
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

    [Fact]
    public async Task Stop_goes_through_a_socket_only_the_servers_user_may_open_and_no_http_route_stops_it()
    {
        var apiPort = TestInfrastructure.FreePort();
        var socketPort = TestInfrastructure.FreePort();
        await using var server = EasyImProcess.Start(["--apiport", Text(apiPort), "--port", Text(socketPort)], _workDir.FullName);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
        await server.WaitUntilReadyAsync(http);
        var control = ControlSocketOf(apiPort);

        Assert.NotNull(control);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(control));
        foreach (var port in new[] { apiPort, socketPort })
        {
            using var any = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await any.PostAsync("/api/local/stop", new StringContent("", null, "text/plain"))).StatusCode);
        }
        Assert.True((await http.GetAsync("/health/live")).IsSuccessStatusCode);

        await using var stop = EasyImProcess.Start(["--stop", "--apiport", Text(apiPort)], _workDir.FullName);
        Assert.Equal(0, await stop.WaitForExitAsync(ExitTimeout));
        Assert.Equal(0, await server.WaitForExitAsync(ExitTimeout));
        Assert.Null(ControlSocketOf(apiPort));
    }

    [Fact]
    public async Task A_control_socket_left_by_a_killed_server_does_not_keep_the_next_from_starting_or_stopping()
    {
        var apiPort = TestInfrastructure.FreePort();
        string[] args = ["--apiport", Text(apiPort), "--port", Text(TestInfrastructure.FreePort())];
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
        await using (var killed = EasyImProcess.Start(args, _workDir.FullName))
            await killed.WaitUntilReadyAsync(http);
        Assert.NotNull(ControlSocketOf(apiPort));

        await using var server = EasyImProcess.Start(args, _workDir.FullName);
        await server.WaitUntilReadyAsync(http);
        await using var stop = EasyImProcess.Start(["--stop", "--apiport", Text(apiPort)], _workDir.FullName);

        Assert.Equal(0, await stop.WaitForExitAsync(ExitTimeout));
        Assert.Equal(0, await server.WaitForExitAsync(ExitTimeout));
    }

    /// <summary>The control socket a server on <paramref name="apiPort"/> started from the work directory made, if any.</summary>
    private string? ControlSocketOf(int apiPort)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gateway:ApiPort"] = Text(apiPort),
            ["EasyIm:DataDirectory"] = Path.Combine(_workDir.FullName, "data"),
        }).Build();
        return EasyIm.Server.ControlSocket.Candidates(configuration).FirstOrDefault(File.Exists);
    }

    private static string Text(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static async Task WaitForOutputAsync(EasyImProcess process, string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!process.Stdout.Contains(text, StringComparison.Ordinal))
            await Task.Delay(50, timeout.Token);
    }
}
