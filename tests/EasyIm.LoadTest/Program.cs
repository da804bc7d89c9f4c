using System.CommandLine;
using EasyIm.LoadTest;
using EasyIm.LoadTest.Processes;

// Run by hand, not in CI; see README's "Performance" section and `--help`.
try
{
    // On Ctrl-C the scenario is cancelled and gets this long to stop its processes and drop its vhost and database.
    return await LoadCli.Build(args).Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
}
finally
{
    ChildProcess.KillAll();
}
