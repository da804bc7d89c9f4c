using System.Diagnostics;
using System.Threading.Channels;
using EasyIm.LoadTest.Measuring;

namespace EasyIm.LoadTest.Processes;

/// <summary>
/// A process the tool started: a server target, the bare relay or a connection agent. Every one is
/// tracked, so that it is killed when the tool ends however it ends (normal end, an exception,
/// Ctrl-C, SIGTERM): <see cref="KillAll"/> runs from the tool's finally and at process exit.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private static readonly Lock LiveLock = new();
    private static readonly List<ChildProcess> Live = [];

    private readonly Process _process;
    private readonly Channel<string>? _output;
    private TimeSpan _lastCpu;

    static ChildProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
    }

    private ChildProcess(string name, Process process, ServiceLog? log, Channel<string>? output)
    {
        Name = name;
        _process = process;
        Log = log;
        _output = output;
    }

    public string Name { get; }

    public int Pid => _process.Id;

    /// <summary>A server's output, kept and counted; null for the tool's own children.</summary>
    public ServiceLog? Log { get; }

    /// <summary>A tool child's stdout, line by line (its protocol with the parent).</summary>
    public ChannelReader<string> Output => _output?.Reader ?? throw new InvalidOperationException($"{Name}: its output goes to its log");

    public StreamWriter Input => _process.StandardInput;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Whether the process ended before the tool ended it, and how.</summary>
    public string? UnexpectedExit { get; private set; }

    /// <summary>
    /// Starts <paramref name="program"/>. With a <paramref name="log"/>, stdout and stderr go to it;
    /// without, stdout lines are <see cref="Output"/> and stderr lines are echoed prefixed with the name.
    /// </summary>
    public static ChildProcess Start(string name, string program, IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null, ServiceLog? log = null)
    {
        var info = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
            info.Environment[key] = value;

        var output = log is null ? Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true }) : null;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(name, process, log, output);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                output?.Writer.TryComplete();
            else if (log is not null)
                log.Add(e.Data);
            else
                output!.Writer.TryWrite(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            if (log is not null)
                log.Add(e.Data);
            else
                Console.Error.WriteLine($"[{name}] {e.Data}");
        };
        process.Exited += (_, _) =>
        {
            if (!child._killing)
                child.UnexpectedExit = $"{name} (pid {child.SafePid()}) exited by itself with code {child.SafeExitCode()}";
        };
        lock (LiveLock)
        {
            process.Start();
            Live.Add(child);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    private volatile bool _killing;

    private string SafePid()
    {
        try
        {
            return _process.Id.ToString();
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }

    private string SafeExitCode()
    {
        try
        {
            return _process.ExitCode.ToString();
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }

    /// <summary>CPU time (user + system) used so far; the last figure seen once the process is gone.</summary>
    public TimeSpan CpuTime()
    {
        if (ProcFs.CpuTime(Pid) is { } cpu)
            _lastCpu = cpu;
        return _lastCpu;
    }

    public long? RssKiB() => ProcFs.RssKiB(Pid);

    /// <summary>Kills the process and its children, and waits for it to be gone.</summary>
    public async ValueTask DisposeAsync()
    {
        _killing = true;
        Kill();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"{Name} (pid {SafePid()}) did not exit within 10 s of being killed");
        }
        lock (LiveLock)
            Live.Remove(this);
        Log?.Dispose();
        _process.Dispose();
    }

    private void Kill()
    {
        _killing = true;
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }

    /// <summary>Kills every child still running. Safe to call more than once, from any thread.</summary>
    public static void KillAll()
    {
        List<ChildProcess> live;
        lock (LiveLock)
            live = [.. Live];
        foreach (var child in live)
            child.Kill();
    }
}
