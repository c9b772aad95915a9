using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lab.Testing;

/// <summary>
/// Every child process the runner has started and not yet released, so that no registry, server or
/// client outlives the runner — whatever way the run ends.
/// </summary>
/// <remarks>
/// <para>
/// Scenarios and tests release their processes (a scenario's <c>ProcessGroup</c>, a test's <c>using</c>) in a <c>finally</c>; this
/// class is the safety net for the ways a <c>finally</c> never runs: the teaching assistant presses
/// Ctrl+C, the runner gets SIGTERM, or the runtime shuts down. <see cref="InstallExitHandlers"/>
/// hooks all three and kills every tracked process (kill -9: at that point nobody waits for a
/// graceful stop).
/// </para>
/// <para>Concurrency: every member is thread-safe; the set is guarded by <c>Gate</c>.</para>
/// <example>
/// <code>
/// using IDisposable handlers = ProcessTracker.InstallExitHandlers(onInterrupt: runCancellation.Cancel);
/// // ... start processes; on Ctrl+C they are killed and onInterrupt stops the run.
/// </code>
/// </example>
/// </remarks>
public static class ProcessTracker
{
    private static readonly Lock Gate = new();
    private static readonly HashSet<ManagedProcess> Live = []; // guarded by Gate
    private static readonly AsyncLocal<StrongBox<int>?> FlowStarts = new();

    /// <summary>The processes started and not yet disposed.</summary>
    public static IReadOnlyList<ManagedProcess> Snapshot()
    {
        lock (Gate)
        {
            return [.. Live];
        }
    }

    public static void Add(ManagedProcess process)
    {
        lock (Gate)
        {
            Live.Add(process);
        }

        if (FlowStarts.Value is { } counter)
        {
            Interlocked.Increment(ref counter.Value);
        }
    }

    /// <summary>
    /// From now on, counts the processes started from the calling async flow (and the tasks it starts):
    /// a test's own starts, whatever else runs beside it. The test suite's guard reads it to find a
    /// test that starts real processes but is not marked slow.
    /// </summary>
    public static StrongBox<int> CountStartsInThisFlow()
    {
        var counter = new StrongBox<int>();
        FlowStarts.Value = counter;
        return counter;
    }

    public static void Remove(ManagedProcess process)
    {
        lock (Gate)
        {
            Live.Remove(process);
        }
    }

    /// <summary>kill -9 of every tracked process that is still running. Safe to call from a signal handler.</summary>
    public static int KillAll()
    {
        int killed = 0;
        foreach (ManagedProcess process in Snapshot())
        {
            if (!process.HasExited)
            {
                process.KillHard();
                killed++;
            }
        }

        return killed;
    }

    /// <summary>
    /// Kills every tracked process on Ctrl+C, SIGTERM and runtime exit. On Ctrl+C and SIGTERM the
    /// runner keeps running long enough to call <paramref name="onInterrupt"/> (which should cancel the
    /// run so the summary and report still get written); a second Ctrl+C ends it at once.
    /// <paramref name="afterKills"/> runs on runtime exit once every process is killed.
    /// </summary>
    public static IDisposable InstallExitHandlers(Action onInterrupt, Action? afterKills = null)
    {
        // One Ctrl+C reaches both Console.CancelKeyPress and the SIGINT registration; a second
        // call within a second is that same keypress, not the teaching assistant pressing again.
        long firstInterrupt = 0;
        void Interrupted(Action<bool> setCancel)
        {
            KillAll();
            setCancel(true);
            long now = Environment.TickCount64;
            long first = Interlocked.CompareExchange(ref firstInterrupt, now, 0);
            if (first == 0)
            {
                onInterrupt();
            }
            else if (now - first > 1000)
            {
                // A second, separate Ctrl+C: stop now, without the report.
                Environment.Exit(130);
            }
        }

        ConsoleCancelEventHandler cancelKeyPress = (_, e) => Interrupted(cancel => e.Cancel = cancel);
        EventHandler processExit = (_, _) =>
        {
            KillAll();
            // After the kills: a network namespace, say, lives on while a process runs in it.
            afterKills?.Invoke();
        };
        Console.CancelKeyPress += cancelKeyPress;
        AppDomain.CurrentDomain.ProcessExit += processExit;

        var registrations = new List<IDisposable>();
        foreach (PosixSignal signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            try
            {
                registrations.Add(PosixSignalRegistration.Create(signal, context => Interrupted(cancel => context.Cancel = cancel)));
            }
            catch (PlatformNotSupportedException)
            {
                // Windows without SIGTERM: Console.CancelKeyPress and ProcessExit still cover Ctrl+C and exit.
            }
        }

        return new Unsubscriber(() =>
        {
            Console.CancelKeyPress -= cancelKeyPress;
            AppDomain.CurrentDomain.ProcessExit -= processExit;
            foreach (IDisposable registration in registrations)
            {
                registration.Dispose();
            }
        });
    }

    private sealed class Unsubscriber(Action unsubscribe) : IDisposable
    {
        public void Dispose() => unsubscribe();
    }
}
