using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace EasyIm.Auth.Security;

/// <summary>
/// Dedicated threads for password hashing, at a lower scheduling priority than the rest of the process
/// (nice 10 on Linux): when the CPU is short, chat (in the same process in the standalone shape) goes first and
/// logins wait, instead of a login flood's PBKDF2 taking turns with it as an equal. <see cref="LoginThrottle"/>
/// hands out at most one slot per thread, so nothing queues here.
/// </summary>
public sealed class HashWorkers : IDisposable
{
    /// <summary>The Linux nice value of the hashing threads (0 is normal; 19 the lowest priority).</summary>
    public const int Nice = 10;

    private readonly BlockingCollection<Action> _work = new();
    private readonly List<Thread> _threads = [];

    public HashWorkers(int threads)
    {
        for (var i = 0; i < threads; i++)
        {
            var thread = new Thread(Run) { IsBackground = true, Name = $"easyim-hash-{i}" };
            thread.Start();
            _threads.Add(thread);
        }
    }

    /// <summary>Runs <paramref name="hash"/> on a hashing thread.</summary>
    public Task<T> RunAsync<T>(Func<T> hash)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                done.SetResult(hash());
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        });
        return done.Task;
    }

    private void Run()
    {
        LowerPriority();
        foreach (var work in _work.GetConsumingEnumerable())
            work();
    }

    /// <summary>On Linux a thread has its own nice value (setpriority on its thread id); elsewhere the threads keep the normal priority.</summary>
    private static void LowerPriority()
    {
        if (!OperatingSystem.IsLinux())
            return;
        try
        {
            _ = SetPriority(0 /* PRIO_PROCESS: with a thread id, that thread */, GetThreadId(), Nice);
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            // A libc without gettid (glibc before 2.30): hashing runs at normal priority, still bounded in count.
        }
    }

    // DllImport rather than LibraryImport: the generated stub needs unsafe code, and these pass only ints.
    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();

    [DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static extern int SetPriority(int which, int who, int priority);

    public void Dispose() => _work.CompleteAdding();
}
