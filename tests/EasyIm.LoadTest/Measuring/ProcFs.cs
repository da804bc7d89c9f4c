using System.Globalization;

namespace EasyIm.LoadTest.Measuring;

/// <summary>Figures Linux keeps in /proc: a process's resident memory, the machine's CPU counters.</summary>
public static class ProcFs
{
    /// <summary>VmRSS of /proc/&lt;pid&gt;/status in KiB, or null when the process is gone.</summary>
    public static long? RssKiB(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    /// <summary>
    /// User plus system CPU time of a process so far, from /proc/&lt;pid&gt;/stat, or null when it is gone.
    /// The kernel counts those in USER_HZ ticks, 100 a second on every architecture Linux exposes to programs.
    /// </summary>
    public static TimeSpan? CpuTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may hold spaces and parentheses: fields are counted after its closing one.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromMilliseconds(ticks * 10);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The machine's CPU time so far (all cores, in clock ticks): busy and total, from the first line of /proc/stat.</summary>
    public static (long Busy, long Total) MachineCpu()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long total = 0;
            for (var i = 1; i < fields.Length; i++)
                total += long.Parse(fields[i], CultureInfo.InvariantCulture);
            // user nice system idle iowait ...: idle and iowait are not busy.
            var idle = long.Parse(fields[4], CultureInfo.InvariantCulture) + long.Parse(fields[5], CultureInfo.InvariantCulture);
            return (total - idle, total);
        }
        catch (IOException)
        {
            return (0, 0);
        }
    }
}
