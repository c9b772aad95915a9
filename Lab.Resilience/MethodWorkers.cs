using System.Collections.Concurrent;
using System.Diagnostics;

namespace Lab.Resilience;

/// <summary>
/// Where user methods run: at most <c>max_concurrent_calls</c> calls at once, on the server's own
/// threads, never on the .NET thread pool that carries every connection's socket I/O.
/// </summary>
/// <remarks>
/// <para>
/// Why not just call the method: a student's method may block its thread (<c>Thread.Sleep</c>, a
/// synchronous file read, an <c>async</c> method that blocks before its first <c>await</c>). On a pool
/// thread that stalls the caller's connection past its method timeout, and eight of them starve the
/// pool so an unrelated <c>add</c> on another connection waits seconds. Here the method runs on a
/// dedicated thread and the connection only awaits the task, so the MethodTimeout reply goes out at the
/// deadline and other connections keep being served. .NET cannot safely abort a thread, so a method
/// that never returns keeps its thread; that is why the number of calls is bounded and a call over the
/// bound is refused (ServerBusy) instead of queued without end. Threads are background threads: a
/// blocked method never keeps the process alive after a stop.
/// </para>
/// <para>
/// It is a <see cref="TaskScheduler"/>, so the continuations of an <c>async</c> method (its code after
/// each <c>await</c>) also come back here rather than onto the pool. Threads start on demand, up to
/// <see cref="MaxThreads"/>, and stay; when all are busy, work waits for the next free one (a queue
/// bounded by the calls allowed). Concurrency: every member may be called from any thread; <see cref="_slots"/> counts
/// calls, <see cref="_lock"/> guards <see cref="_threadCount"/>, the rest is lock-free.
/// </para>
/// <example>
/// <code>
/// var workers = new MethodWorkers(maxConcurrentCalls: 64);
/// if (workers.TryRun("add", () => method.InvokeAsync(arguments), out Task&lt;object?&gt; running)) await running;
/// </code>
/// </example>
/// </remarks>
public sealed class MethodWorkers(int maxConcurrentCalls) : TaskScheduler
{
    private readonly SemaphoreSlim _slots = new(maxConcurrentCalls, maxConcurrentCalls);
    private readonly ConcurrentQueue<Task> _handOff = new();
    private readonly SemaphoreSlim _handedOff = new(0);
    private readonly ConcurrentQueue<Task> _overflow = new();
    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<Task, (string Name, long Started)> _running = new();
    private int _threadCount;

    // Threads waiting for work that no task has claimed yet.
    private int _available;

    [ThreadStatic]
    private static bool t_isWorker;

    /// <summary>The bound: calls that may run at once (a call holds its slot until its method really ends).</summary>
    public int MaxConcurrentCalls { get; } = maxConcurrentCalls;

    /// <summary>Threads at most: enough for many blocked methods, few enough to keep memory small.</summary>
    public int MaxThreads { get; } = Math.Min(maxConcurrentCalls, 256);

    /// <inheritdoc />
    public override int MaximumConcurrencyLevel => MaxThreads;

    /// <summary>Calls running now, including those whose callers already had a MethodTimeout reply.</summary>
    public int Running => MaxConcurrentCalls - _slots.CurrentCount;

    /// <summary>
    /// Starts <paramref name="method"/> on a worker, or returns false at once when every slot is taken.
    /// The slot is freed when the method's task ends, not when the caller stops waiting for it.
    /// </summary>
    public bool TryRun(string name, Func<ValueTask<object?>> method, out Task<object?> running)
    {
        if (!_slots.Wait(0))
        {
            running = Task.FromResult<object?>(null);
            return false;
        }

        running = Task.Factory.StartNew(() => method().AsTask(), CancellationToken.None, TaskCreationOptions.DenyChildAttach, this).Unwrap();
        _running[running] = (name, Stopwatch.GetTimestamp());
        running.ContinueWith(
            (task, slots) =>
            {
                _running.TryRemove(task, out _);
                ((SemaphoreSlim)slots!).Release();
            },
            _slots, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, Default);
        return true;
    }

    /// <summary>The methods running now and for how long, e.g. <c>block() for 3.2 s</c> (for the stop's log).</summary>
    public IReadOnlyList<string> DescribeRunning() =>
        [.. _running.Values.Select(call => $"{call.Name}() for {Stopwatch.GetElapsedTime(call.Started).TotalSeconds:0.0} s")];

    protected override void QueueTask(Task task)
    {
        // Hand the task to a waiting thread (claimed with a compare-exchange so two tasks never count
        // on the same one), else to a new thread, else — every thread busy — to the overflow queue.
        if (TryClaimAvailableThread())
        {
            _handOff.Enqueue(task);
            _handedOff.Release();
            return;
        }

        lock (_lock)
        {
            if (_threadCount < MaxThreads)
            {
                _threadCount++;
                new Thread(WorkLoop) { IsBackground = true, Name = "rpc-method" }.Start(task);
                return;
            }
        }

        _overflow.Enqueue(task);
    }

    // A task may run inline only on a worker: inlining on a pool thread would put user code back there.
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        t_isWorker && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => [.. _handOff, .. _overflow];

    private void WorkLoop(object? first)
    {
        t_isWorker = true;
        Task? task = (Task?)first;
        while (true)
        {
            if (task is not null)
            {
                TryExecuteTask(task);
            }

            if (_overflow.TryDequeue(out task))
            {
                continue;
            }

            Interlocked.Increment(ref _available);
            // Work may have gone to the overflow just before we counted ourselves available: take it,
            // unless a task has already claimed us (then it is being handed off; overflow comes next).
            if (!_overflow.IsEmpty && TryClaimAvailableThread())
            {
                _overflow.TryDequeue(out task);
                continue;
            }

            _handedOff.Wait();
            _handOff.TryDequeue(out task);
        }
    }

    private bool TryClaimAvailableThread()
    {
        int available;
        while ((available = Volatile.Read(ref _available)) > 0)
        {
            if (Interlocked.CompareExchange(ref _available, available - 1, available) == available)
            {
                return true;
            }
        }

        return false;
    }
}
