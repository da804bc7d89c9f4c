namespace EasyIm.LoadTest.Processes;

/// <summary>
/// A server process's console output: kept in a file (up to a bound) and counted. The console
/// logger starts each entry with its level (<c>fail:</c>, <c>crit:</c>, <c>warn:</c>) on a line of
/// its own, then indented lines; an entry counts once, whatever its length. PostgreSQL refusing a
/// connection (SQLSTATE 53300, "remaining connection slots are reserved", "too many clients") is
/// counted apart: the distributed shape must not see one at full load.
/// </summary>
public sealed class ServiceLog(string name, string path) : IDisposable
{
    public const int MaxLinesKept = 50_000;
    private const int MaxErrorsQuoted = 5;

    private static readonly string[] PostgresConnectionErrors = ["53300", "remaining connection slots", "too many clients"];

    private readonly Lock _lock = new();
    private readonly StreamWriter _file = new(path) { AutoFlush = false };
    private readonly List<string> _firstErrors = [];
    private bool _quoting;
    private bool _pgCounted;
    private bool _disposed;

    public string Name { get; } = name;
    public string Path { get; } = path;
    public int Lines { get; private set; }
    public int Errors { get; private set; }
    public int Warnings { get; private set; }
    public int PostgresConnectionRefusals { get; private set; }

    /// <summary>The errors and warnings logged before the target was ready (see <see cref="MarkStarted"/>).</summary>
    public int StartupErrors { get; private set; }
    public int StartupWarnings { get; private set; }

    /// <summary>Start-up is over: what was logged so far is told apart from what the load brings.</summary>
    public void MarkStarted()
    {
        lock (_lock)
        {
            (StartupErrors, StartupWarnings) = (Errors, Warnings);
            FirstStartupErrors = [.. _firstErrors];
            _firstErrors.Clear();
            _quoting = false;
        }
    }

    /// <summary>The first lines of the first error entries logged while starting.</summary>
    public IReadOnlyList<string> FirstStartupErrors { get; private set; } = [];

    /// <summary>The first lines of the first error entries (after start-up once it is marked), for the report.</summary>
    public IReadOnlyList<string> FirstErrors
    {
        get
        {
            lock (_lock)
                return [.. _firstErrors];
        }
    }

    public void Add(string line)
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            Lines++;
            if (Lines <= MaxLinesKept)
                _file.WriteLine(line);
            else if (Lines == MaxLinesKept + 1)
                _file.WriteLine($"... (more than {MaxLinesKept} lines: the rest is only counted)");

            var header = line.Length >= 5 && line[4] == ':' && !char.IsWhiteSpace(line[0]);
            if (header || !line.StartsWith(' '))
            {
                _pgCounted = false;
                _quoting = false;
                var error = line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal)
                    || line.StartsWith("Unhandled exception", StringComparison.Ordinal);
                if (line.StartsWith("warn:", StringComparison.Ordinal))
                    Warnings++;
                if (error)
                {
                    Errors++;
                    if (_firstErrors.Count < MaxErrorsQuoted)
                    {
                        _firstErrors.Add(line);
                        _quoting = true;
                    }
                }
            }
            else if (_quoting && _firstErrors[^1].Length < 400)
            {
                // The entry's message is on the next line: quote it with its header.
                _firstErrors[^1] += " |" + line.TrimStart();
            }

            if (!_pgCounted && PostgresConnectionErrors.Any(p => line.Contains(p, StringComparison.OrdinalIgnoreCase)))
            {
                PostgresConnectionRefusals++;
                _pgCounted = true;
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _file.Dispose();
        }
    }
}
