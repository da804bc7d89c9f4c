using System.Net.Http.Json;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Server;

/// <summary>The executable as a user meets it: targets, wrong settings, migrate, stop, working directory.</summary>
public sealed class CommandLineTests : IDisposable
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _workDir = Directory.CreateTempSubdirectory("easyim-cli-");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _workDir.Delete(recursive: true);
    }

    [Fact]
    public async Task The_gateway_alone_on_the_in_memory_bus_refuses_to_start_and_says_what_to_change()
    {
        await using var process = EasyImProcess.Start(["--target", "gateway"], _workDir.FullName);

        Assert.Equal(2, await process.WaitForExitAsync(ExitTimeout));
        Assert.Contains("Bus:Transport", process.Stderr);
        Assert.Contains("RabbitMq", process.Stderr);
        Assert.Contains("--target all", process.Stderr);
        Assert.DoesNotContain("   at ", process.Stderr); // a message, not a stack trace
    }

    [Fact]
    public async Task An_unknown_target_stops_at_once_naming_the_valid_ones()
    {
        await using var process = EasyImProcess.Start(["--target", "gateway,chat"], _workDir.FullName);

        Assert.Equal(2, await process.WaitForExitAsync(ExitTimeout));
        Assert.Contains("'chat'", process.Stderr);
        Assert.Contains("gateway, auth, messaging, friends", process.Stderr);
    }

    [Fact]
    public async Task RabbitMq_without_its_address_stops_naming_the_key()
    {
        await using var process = EasyImProcess.Start(["--target", "auth"], _workDir.FullName,
            new Dictionary<string, string> { ["Bus__Transport"] = "RabbitMq" });

        Assert.Equal(2, await process.WaitForExitAsync(ExitTimeout));
        Assert.Contains("ConnectionStrings:rabbitmq", process.Stderr);
    }

    [Fact]
    public async Task List_targets_names_every_target_and_what_it_needs()
    {
        await using var process = EasyImProcess.Start(["--list-targets"], _workDir.FullName);

        Assert.Equal(0, await process.WaitForExitAsync(ExitTimeout));
        foreach (var target in new[] { "all", "gateway", "auth", "messaging", "friends" })
            Assert.Contains(target, process.Stdout);
        Assert.Contains("needs: bus, database (auth)", process.Stdout);
    }

    [Fact]
    public async Task Migrate_creates_the_databases_and_exits()
    {
        await using var process = EasyImProcess.Start(["migrate", "--data", "store"], _workDir.FullName);

        Assert.Equal(0, await process.WaitForExitAsync(ExitTimeout));
        Assert.Contains("auth: migrated", process.Stdout);
        Assert.True(File.Exists(Path.Combine(_workDir.FullName, "store", "auth.db")));
    }

    [Fact]
    public async Task Started_from_any_directory_it_serves_keeps_data_in_dot_data_there_and_stops_on_easyim_stop_from_there()
    {
        var apiPort = TestInfrastructure.FreePort();
        var socketPort = TestInfrastructure.FreePort();
        await using var process = EasyImProcess.Start(["--port", socketPort.ToString(), "--apiport", apiPort.ToString()], _workDir.FullName);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
        await process.WaitUntilReadyAsync(http);

        var register = await http.PostAsJsonAsync("/api/user/register", new { account = "cli_user", password = "secret-1" });
        await using var stop = EasyImProcess.Start(["--stop", "--apiport", apiPort.ToString()], _workDir.FullName);

        Assert.True(register.IsSuccessStatusCode, await register.Content.ReadAsStringAsync());
        Assert.Equal(0, await stop.WaitForExitAsync(ExitTimeout));
        Assert.Equal(0, await process.WaitForExitAsync(ExitTimeout));
        Assert.True(File.Exists(Path.Combine(_workDir.FullName, "data", "auth.db")));
    }

    [Fact]
    public async Task Easyims_dotenv_file_is_read_from_the_working_directory()
    {
        var apiPort = TestInfrastructure.FreePort();
        var socketPort = TestInfrastructure.FreePort();
        await File.WriteAllTextAsync(Path.Combine(_workDir.FullName, ".env"),
            $"SERVER_PORT = \"{socketPort}\"\nAPI_SERVER_PORT = \"{apiPort}\"\nDB_DRIVER = \"sqlite3\"\n");
        await using var process = EasyImProcess.Start([], _workDir.FullName);
        using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
        using var socketPortHttp = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{socketPort}") };

        await process.WaitUntilReadyAsync(api);

        Assert.True((await socketPortHttp.GetAsync("/health/live")).IsSuccessStatusCode);
        // --stop reads the same .env, so it finds the server's port and control socket without being told.
        await using var stop = EasyImProcess.Start(["--stop"], _workDir.FullName);
        Assert.Equal(0, await stop.WaitForExitAsync(ExitTimeout));
        Assert.Equal(0, await process.WaitForExitAsync(ExitTimeout));
    }

    [Fact]
    public async Task A_port_in_use_stops_with_a_message_not_a_crash()
    {
        using var squatter = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Any, TestInfrastructure.FreePort());
        squatter.Start();
        var taken = ((System.Net.IPEndPoint)squatter.LocalEndpoint).Port;

        await using var process = EasyImProcess.Start(["--apiport", taken.ToString(), "--port", TestInfrastructure.FreePort().ToString()], _workDir.FullName);

        Assert.Equal(2, await process.WaitForExitAsync(ExitTimeout));
        Assert.Contains("--apiport", process.Stderr);
        Assert.DoesNotContain("Unhandled exception", process.Stderr);
    }
}
