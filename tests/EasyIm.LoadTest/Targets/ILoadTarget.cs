using System.Net;
using EasyIm.LoadTest.Processes;

namespace EasyIm.LoadTest.Targets;

/// <summary>What the load client connects to: EasyIm in one of its shapes, or the bare relay.</summary>
public interface ILoadTarget : IAsyncDisposable
{
    /// <summary>For the report: <c>easyim standalone</c>, <c>easyim distributed</c>, <c>bare relay</c>.</summary>
    string Name { get; }

    /// <summary>The long-connection port (the gateway's, or the relay's).</summary>
    IPEndPoint Endpoint { get; }

    /// <summary>Every process the target runs, whose CPU time is the target's.</summary>
    IReadOnlyList<ChildProcess> Processes { get; }

    /// <summary>The one process that holds the connections (the gateway), for memory per connection.</summary>
    ChildProcess ConnectionHolder { get; }
}

public static class LoadTargetExtensions
{
    /// <summary>CPU time of all the target's processes so far.</summary>
    public static TimeSpan CpuTime(this ILoadTarget target)
    {
        var total = TimeSpan.Zero;
        foreach (var process in target.Processes)
            total += process.CpuTime();
        return total;
    }

    /// <summary>Processes that ended by themselves, said in words; empty when none did.</summary>
    public static IEnumerable<string> UnexpectedExits(this ILoadTarget target) =>
        target.Processes.Select(p => p.UnexpectedExit).OfType<string>();
}
