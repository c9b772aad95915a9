using System.Collections.Concurrent;
using System.Diagnostics;

namespace Lab.Server;

/// <summary>
/// Counts the user methods running: at most <c>max_concurrent_calls</c> at once. A method runs on the
/// thread that read its request, as the lab's server thread called it; a method that blocks that thread
/// keeps its slot until it really returns, however long after its caller was answered.
/// </summary>
/// <remarks>
/// <para>
/// Why a bound: .NET cannot safely abort a thread, so a method that never returns keeps its thread.
/// Without a bound, a client calling a blocking method again and again would take a thread each time;
/// with it, a call over the bound is refused (ServerBusy) instead.
/// </para>
/// <para>
/// Why on the reading thread: Lab.Bench measured every hand-off to another thread (a pool work item, a
/// dedicated thread) at 1.6x to 2.0x the floor's 1-caller p50 latency (goal: 1.5x), since it adds a
/// thread wake-up per call. The deadline does not need it: when a method holds the thread past its
/// method timeout, the connection answers MethodTimeout without it and goes on on another thread
/// (see RpcConnection).
/// </para>
/// <para>
/// The risk is starvation: every blocked method holds a pool thread, and by default the pool adds
/// threads slowly (about two a second) once all are busy, so thirty blocked methods would delay an
/// unrelated <c>add</c> by seconds. So the pool is told to start threads at once up to the number of
/// calls running (see <see cref="CoverInPool"/>).
/// </para>
/// <para>Concurrency: every member may be called from any thread; <see cref="_slots"/> counts calls.</para>
/// <example>
/// <code>
/// var slots = new CallSlots(maxConcurrentCalls: 64);
/// if (slots.TryRun("add", () => method.InvokeAsync(arguments), out ValueTask&lt;object?&gt; running)) await running;
/// </code>
/// </example>
/// </remarks>
public sealed class CallSlots
{
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentDictionary<object, (string Name, long Started)> _running = new();

    // How many running calls the pool's minimum thread count already allows for. Process-wide, like the
    // pool itself (servers in one process share it), and only ever raised. It starts at the pool's own
    // default minimum, one thread per core, which starts threads without delay anyway.
    private static readonly Lock PoolLock = new();
    private static int s_callsCovered = Environment.ProcessorCount - 1;

    public CallSlots(int maxConcurrentCalls)
    {
        MaxConcurrentCalls = maxConcurrentCalls;
        _slots = new SemaphoreSlim(maxConcurrentCalls, maxConcurrentCalls);
    }

    /// <summary>The bound: calls that may run at once (a call holds its slot until its method really ends).</summary>
    public int MaxConcurrentCalls { get; }

    /// <summary>
    /// Runs <paramref name="method"/> on this thread up to its first <c>await</c>, or returns false at once
    /// when every slot is taken. The slot is freed when the method's task ends, not when the caller stops
    /// waiting for it.
    /// </summary>
    public bool TryRun(string name, Func<ValueTask<object?>> method, out ValueTask<object?> running)
    {
        if (!_slots.Wait(0))
        {
            running = default;
            return false;
        }

        int runningCalls = MaxConcurrentCalls - _slots.CurrentCount;
        if (runningCalls > Volatile.Read(ref s_callsCovered))
            CoverInPool(runningCalls);

        object call = new();
        _running[call] = (name, Stopwatch.GetTimestamp());
        try
        {
            running = method();
        }
        catch
        {
            Release(call);
            throw;
        }

        if (!running.IsCompleted)
        {
            running = new ValueTask<object?>(ReleaseWhenDoneAsync(running, call));
            return true;
        }

        // Read once here, so the caller gets a value or a task it may read as often as it likes.
        running = running.IsCompletedSuccessfully ? new ValueTask<object?>(running.Result) : new ValueTask<object?>(running.AsTask());
        Release(call);
        return true;
    }

    // Before the task completes: a caller that has its answer and calls again finds the slot free.
    private async Task<object?> ReleaseWhenDoneAsync(ValueTask<object?> running, object call)
    {
        try
        {
            return await running.ConfigureAwait(false);
        }
        finally
        {
            Release(call);
        }
    }

    private void Release(object call)
    {
        _running.TryRemove(call, out _);
        _slots.Release();
    }

    // Raised only when more calls run at once than the pool already allows for, not up front: a high
    // minimum keeps more idle pool threads spinning, and Lab.Bench measured the 1-caller p50 at 1.61x and
    // 1.72x of the floor with the minimum raised at start, against 1.36x and 1.43x without.
    private static void CoverInPool(int runningCalls)
    {
        lock (PoolLock)
        {
            if (runningCalls <= s_callsCovered)
                return;
            s_callsCovered = runningCalls;
            // One thread per call that may block (at most 256, to keep memory small), plus two per core
            // for the connections' own work.
            int wanted = Math.Min(runningCalls, 256) + 2 * Environment.ProcessorCount;
            ThreadPool.GetMinThreads(out int workers, out int completionPorts);
            if (workers < wanted)
                ThreadPool.SetMinThreads(wanted, completionPorts);
        }
    }

    /// <summary>The methods running now and for how long, e.g. <c>block() for 3.2 s</c> (for the stop's log).</summary>
    public IReadOnlyList<string> DescribeRunning() =>
        [.. _running.Values.Select(call => $"{call.Name}() for {Stopwatch.GetElapsedTime(call.Started).TotalSeconds:0.0} s")];
}
