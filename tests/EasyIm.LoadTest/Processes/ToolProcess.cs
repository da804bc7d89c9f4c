namespace EasyIm.LoadTest.Processes;

/// <summary>Starts this tool again as a child in one of its hidden modes (the bare relay, a connection agent).</summary>
public static class ToolProcess
{
    public static ChildProcess Start(string name, params string[] arguments)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "EasyIm.LoadTest.dll");
        // Run through the same host as this process: the apphost, or `dotnet` with the dll.
        var host = Environment.ProcessPath ?? "dotnet";
        var viaDotnet = Path.GetFileNameWithoutExtension(host) == "dotnet";
        return ChildProcess.Start(name, host, viaDotnet ? [dll, .. arguments] : arguments);
    }

    /// <summary>The next stdout line of a tool child, or an exception naming what it printed instead.</summary>
    public static async Task<string> ReadLineAsync(ChildProcess child, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            if (await child.Output.WaitToReadAsync(limit.Token) && child.Output.TryRead(out var line))
                return line;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{child.Name} said nothing within {timeout.TotalSeconds:F0} s");
        }
        throw new InvalidOperationException($"{child.Name} ended its output{(child.HasExited ? $" and exited with code {child.ExitCode}" : "")}");
    }
}
