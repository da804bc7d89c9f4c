using System.CommandLine;
using EasyIm.Hosting;
using EasyIm.Hosting.Database;

namespace EasyIm.Server;

/// <summary>
/// easyim's command line. Its own options map onto configuration keys; any other argument
/// (<c>--Bus:Transport=RabbitMq</c>) goes to the configuration as is.
/// </summary>
public static class Cli
{
    public static RootCommand Build()
    {
        var target = new Option<string?>("--target") { Description = $"Services to run, comma-separated: all, {string.Join(", ", Targets.Modules.Select(m => m.Name))} (default all)" };
        var port = new Option<int?>("--port") { Description = "Long connections port, raw TCP and WebSocket (default 8888)" };
        var apiPort = new Option<int?>("--apiport") { Description = "HTTP API port (default 8889)" };
        var data = new Option<string?>("--data") { Description = "Directory of the SQLite files (default ./data)" };
        var listTargets = new Option<bool>("--list-targets") { Description = "List the targets and what each needs, then exit" };

        Dictionary<string, string?> Overrides(ParseResult parsed)
        {
            var settings = new Dictionary<string, string?>();
            if (parsed.GetValue(target) is { } t) settings[EasyImHost.TargetKey] = t;
            if (parsed.GetValue(port) is { } p) settings["Gateway:Port"] = p.ToString();
            if (parsed.GetValue(apiPort) is { } a) settings[Listening.ApiPortKey] = a.ToString();
            if (parsed.GetValue(data) is { } d) settings[EasyImConfiguration.DataDirectoryKey] = d;
            return settings;
        }

        var root = new RootCommand("EasyIm: an instant-messaging server. Runs every service in one process, or the ones --target names.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        foreach (var option in new Option[] { target, port, apiPort, data, listTargets })
            root.Options.Add(option);
        root.SetAction(async (parsed, cancellationToken) =>
        {
            if (parsed.GetValue(listTargets))
            {
                Console.WriteLine("Targets (--target, comma-separated):");
                Console.WriteLine(Targets.Describe());
                return 0;
            }
            return await Guarded(async () =>
            {
                await using var app = EasyImHost.Build([.. parsed.UnmatchedTokens], Overrides(parsed));
                await app.RunAsync();
            });
        });

        var migrate = new Command("migrate", "Apply the database migrations of the services --target names, then exit");
        foreach (var option in new Option[] { target, data })
            migrate.Options.Add(option);
        migrate.TreatUnmatchedTokensAsErrors = false;
        migrate.SetAction(async (parsed, cancellationToken) => await Guarded(async () =>
        {
            await using var app = EasyImHost.Build([.. parsed.UnmatchedTokens], Overrides(parsed));
            foreach (var database in app.Services.GetServices<IServiceDatabase>())
            {
                await database.MigrateAsync(app.Services, cancellationToken);
                Console.WriteLine($"{database.Service}: migrated ({database.Provider})");
            }
        }));
        root.Subcommands.Add(migrate);
        return root;
    }

    /// <summary>A wrong setting ends the process with its message and exit code 2, without a stack trace.</summary>
    private static async Task<int> Guarded(Func<Task> run)
    {
        try
        {
            await run();
            return 0;
        }
        catch (StartupException ex)
        {
            await Console.Error.WriteLineAsync($"easyim: {ex.Message}");
            return 2;
        }
        catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            await Console.Error.WriteLineAsync($"easyim: {ex.Message} Another program (or another easyim) uses the port: stop it, or choose others with --port and --apiport.");
            return 2;
        }
    }
}
