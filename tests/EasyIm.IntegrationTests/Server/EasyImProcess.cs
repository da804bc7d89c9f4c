using System.Diagnostics;
using System.Text;

namespace EasyIm.IntegrationTests.Server;

/// <summary>The built <c>easyim</c> executable run as its own process, as a user runs it.</summary>
public sealed class EasyImProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private readonly List<(string Text, TaskCompletionSource Seen)> _awaited = [];

    private EasyImProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            lock (_stdout)
            {
                _stdout.AppendLine(e.Data);
                foreach (var (text, seen) in _awaited)
                {
                    if (e.Data?.Contains(text, StringComparison.Ordinal) == true)
                        seen.TrySetResult();
                }
            }
        };
        _process.ErrorDataReceived += (_, e) => { lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    public static EasyImProcess Start(IEnumerable<string> args, string? workingDirectory = null, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory ?? Directory.GetCurrentDirectory(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "easyim.dll"));
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        // The test run's own settings must not leak into the process under test.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("EasyIm__") || k.StartsWith("Bus__") || k.StartsWith("Gateway__")).ToList())
            info.Environment.Remove(key);
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            info.Environment[key] = value;
        return new EasyImProcess(Process.Start(info)!);
    }

    /// <summary>Waits for the process to end by itself and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Waits until the process answers <c>/health/ready</c> (its bus and databases reachable) at
    /// <paramref name="http"/>'s address, for at most <paramref name="timeout"/> (a minute by default).
    /// Fails with the process's output when it exits first or the time runs out.
    /// </summary>
    public async Task WaitUntilReadyAsync(HttpClient http, TimeSpan? timeout = null, string name = "easyim")
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            if (HasExited)
            {
                // Exited is not drained: the output it wrote last may still be in the pipes. Wait for their end, so the
                // exception (and a caller reading Stdout afterwards) has all of it.
                using var drained = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(drained.Token);
                throw new InvalidOperationException($"{name} exited before it was ready:\n{Stderr}\n{Stdout}");
            }
            try
            {
                // One slow answer on a busy machine is asked again, not waited for.
                using var answer = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                using var response = await http.GetAsync("/health/ready", answer.Token);
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                // Not listening yet.
            }
            if (DateTime.UtcNow >= deadline)
                throw new TimeoutException($"{name} was not ready within {limit.TotalSeconds} s:\n{Stderr}\n{Stdout}");
            await Task.Delay(100);
        }
    }

    /// <summary>The same, on the loopback API port <paramref name="apiPort"/>.</summary>
    public async Task WaitUntilReadyAsync(int apiPort, TimeSpan? timeout = null, string name = "easyim")
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
        await WaitUntilReadyAsync(http, timeout, name);
    }

    public int Id => _process.Id;

    /// <summary>Waits until the process has written a line containing <paramref name="text"/> to stdout (already written counts).</summary>
    public Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_stdout)
        {
            if (_stdout.ToString().Contains(text, StringComparison.Ordinal))
                return Task.CompletedTask;
            _awaited.Add((text, seen));
        }
        return seen.Task.WaitAsync(timeout);
    }

    /// <summary>SIGKILL, as <c>kill -9</c>: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
