using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using EasyIm.Hosting;
using EasyIm.Hosting.Database;
using EasyIm.Server.Storage;

namespace EasyIm.Server;

/// <summary>
/// easyim's command line. Its own options map onto configuration keys; any other argument
/// (<c>--Bus:Transport=RabbitMq</c>) goes to the configuration as is. An option's default is shown by
/// <c>--help</c> but only an option given on the command line overrides the configuration
/// (appsettings.json, easyim's .env, environment variables).
/// </summary>
public static class Cli
{
    public const int DefaultPort = 8888;
    public const int DefaultApiPort = 8889;

    public static RootCommand Build()
    {
        var target = new Option<string>("--target")
        {
            Description = $"Services to run, comma-separated: {Targets.All}, {string.Join(", ", Targets.Modules.Select(m => m.Name))} (EasyIm:Target)",
            DefaultValueFactory = _ => Targets.All,
        };
        var port = new Option<int>("--port") { Description = "Long connections port, raw TCP and WebSocket (Gateway:Port)", DefaultValueFactory = _ => DefaultPort };
        var apiPort = new Option<int>("--apiport") { Description = "HTTP API port; every target serves /health/* and /metrics on it (Gateway:ApiPort)", DefaultValueFactory = _ => DefaultApiPort };
        var data = new Option<string>("--data") { Description = "Directory of the SQLite files, relative to the working directory (EasyIm:DataDirectory)", DefaultValueFactory = _ => "./data" };
        var listTargets = new Option<bool>("--list-targets") { Description = "List the targets and what each needs, then exit", DefaultValueFactory = _ => false };
        var stop = new Option<bool>("--stop")
        {
            Description = "Stop the easyim running on this machine with this --apiport (through its control socket, which only its user may open), wait until it has stopped, then exit",
            DefaultValueFactory = _ => false,
        };

        Dictionary<string, string?> Overrides(ParseResult parsed)
        {
            var settings = new Dictionary<string, string?>();
            if (Given(parsed, target)) settings[EasyImHost.TargetKey] = parsed.GetValue(target);
            if (Given(parsed, port)) settings["Gateway:Port"] = parsed.GetValue(port).ToString(CultureInfo.InvariantCulture);
            if (Given(parsed, apiPort)) settings[Listening.ApiPortKey] = parsed.GetValue(apiPort).ToString(CultureInfo.InvariantCulture);
            if (Given(parsed, data)) settings[EasyImConfiguration.DataDirectoryKey] = parsed.GetValue(data);
            return settings;
        }

        var root = new RootCommand("EasyIm: an instant-messaging server. Runs every service in one process, or the ones --target names.\n" +
            "Any setting can also be given as --Section:Key=value (e.g. --Bus:Transport=RabbitMq); see README.md, Configuration.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        foreach (var option in new Option[] { target, port, apiPort, data, listTargets, stop })
            root.Options.Add(option);
        root.SetAction(async (parsed, cancellationToken) =>
        {
            if (parsed.GetValue(listTargets))
            {
                Console.WriteLine("Targets (--target, comma-separated):");
                Console.WriteLine(Targets.Describe());
                return 0;
            }
            if (parsed.GetValue(stop))
                return await StopCommand.RunAsync([.. parsed.UnmatchedTokens], Overrides(parsed), cancellationToken);
            return await Guarded(async () =>
            {
                await using var app = EasyImHost.Build([.. parsed.UnmatchedTokens], Overrides(parsed));
                app.Lifetime.ApplicationStarted.Register(() =>
                    Console.WriteLine(Banner.Describe(app.Configuration, Targets.Resolve(app.Configuration[EasyImHost.TargetKey]), app.Urls)));
                await app.RunAsync();
            });
        });

        var from = new Option<string>("--from") { Description = "With --to: copy the standalone server's SQLite data in this directory into an empty PostgreSQL database (resumable; verified by counts and checksums)" };
        var to = new Option<string>("--to") { Description = "The PostgreSQL connection string --from copies into (Host=...;Username=...;Password=...;Database=...)" };
        var batch = new Option<int>("--batch") { Description = "Rows per transaction of the --from copy", DefaultValueFactory = _ => DataMigration.DefaultBatchSize };
        // Tests only: ends the process in the middle of a copy, as a kill would, to show that the next run resumes.
        var interruptAfter = new Option<string>("--interrupt-after") { Hidden = true, Description = "service.table:rows" };
        var migrate = new Command("migrate", "Apply the database migrations of the services --target names (Database:Provider: SQLite files in --data, or PostgreSQL), then exit; " +
            "or, with --from and --to, copy a standalone server's data into PostgreSQL");
        foreach (var option in new Option[] { target, data, from, to, batch, interruptAfter })
            migrate.Options.Add(option);
        migrate.TreatUnmatchedTokensAsErrors = false;
        migrate.SetAction(async (parsed, cancellationToken) =>
        {
            if (Given(parsed, from) || Given(parsed, to))
            {
                var code = 0;
                var run = await Guarded(async () =>
                {
                    if (parsed.GetValue(from) is not { Length: > 0 } source || parsed.GetValue(to) is not { Length: > 0 } connection)
                        throw new StartupException("migrate --from DIR and --to CONNECTION go together: the SQLite data directory to copy, and the PostgreSQL database to copy it into.");
                    (string, long)? interrupt = parsed.GetValue(interruptAfter) is { } text && text.Split(':') is [var table, var rows]
                        ? (table, long.Parse(rows, CultureInfo.InvariantCulture)) : null;
                    code = await new DataMigration(source, connection, parsed.GetValue(batch), interrupt, Console.Out).RunAsync(cancellationToken);
                });
                return run != 0 ? run : code;
            }
            return await MigrateSchemasAsync(parsed, cancellationToken);
        });
        root.Subcommands.Add(migrate);

        var file = new Argument<string>("file") { Description = "The backup file" };
        var backup = new Command("backup", "Copy the SQLite databases in --data into one file, while a server runs on them or not, then exit") { file };
        backup.Options.Add(data);
        backup.SetAction(async (parsed, cancellationToken) => await Guarded(() =>
            SqliteBackup.BackupAsync(parsed.GetValue(data)!, parsed.GetValue(file)!, Console.Out, cancellationToken)));
        root.Subcommands.Add(backup);

        var force = new Option<bool>("--force") { Description = "Replace the databases of a data directory that is not empty" };
        var restore = new Command("restore", "Write the databases of a backup file into --data (no server may be running on it), then exit") { file };
        restore.Options.Add(data);
        restore.Options.Add(force);
        restore.SetAction(async (parsed, cancellationToken) => await Guarded(() =>
            SqliteBackup.RestoreAsync(parsed.GetValue(file)!, parsed.GetValue(data)!, parsed.GetValue(force), Console.Out, cancellationToken)));
        root.Subcommands.Add(restore);
        return root;

        async Task<int> MigrateSchemasAsync(ParseResult parsed, CancellationToken cancellationToken) => await Guarded(async () =>
        {
            await using var app = EasyImHost.Build([.. parsed.UnmatchedTokens], Overrides(parsed), migrateOnly: true);
            foreach (var database in app.Services.GetServices<IServiceDatabase>())
            {
                await database.MigrateAsync(app.Services, cancellationToken);
                Console.WriteLine($"{database.Service}: migrated ({database.Provider})");
            }
        });
    }

    /// <summary>Whether the option was on the command line (not only its default).</summary>
    private static bool Given(ParseResult parsed, Option option) => parsed.GetResult(option) is { Implicit: false };

    /// <summary>A wrong setting ends the process with its message and exit code 2, without a stack trace.</summary>
    internal static async Task<int> Guarded(Func<Task> run)
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
