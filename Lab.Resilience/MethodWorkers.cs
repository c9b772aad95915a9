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
/// <see cref="MaxThreads"/>, and stay. Work waits in one queue; a task is handed to an idle thread, or a
/// new thread is started for it, so it never waits behind a method that blocks while a thread could
/// still be started. Only when all <see cref="MaxThreads"/> threads are busy does it wait for the next
/// free one. Concurrency: every member may be called from any thread; <see cref="_slots"/> counts calls,
/// <see cref="_gate"/> guards the queue and the thread counts.
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
    private readonly ConcurrentDictionary<Task, (string Name, long Started)> _running = new();

    // Guards the three fields below; idle threads wait on it (Monitor.Wait) for work.
    private readonly object _gate = new();
    private readonly Queue<Task> _queue = new();
    private int _threads;

    // Threads waiting in Monitor.Wait that no queued task has yet been counted against. A task
    // queued when this is zero gets a new thread (below MaxThreads), never a place behind busy ones.
    private int _idle;

    [ThreadStatic]
    private static bool t_isWorker;

    /// <summary>The bound: calls that may run at once (a call holds its slot until its method really ends).</summary>
    public int MaxConcurrentCalls { get; } = maxConcurrentCalls;

    /// <summary>Threads at most: enough for many blocked methods, few enough to keep memory small.</summary>
    public int MaxThreads { get; } = Math.Min(maxConcurrentCalls, 256);

    /// <inheritdoc />
    public override int MaximumConcurrencyLevel => MaxThreads;

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
        lock (_gate)
        {
            _queue.Enqueue(task);
            if (_idle > 0)
            {
                // Wake one idle thread for this task. If a thread that just finished its own work takes
                // the task first, the woken one finds the queue empty and goes back to waiting.
                _idle--;
                Monitor.Pulse(_gate);
            }
            else if (_threads < MaxThreads)
            {
                _threads++;
                new Thread(WorkLoop) { IsBackground = true, Name = "rpc-method" }.Start();
            }

            // Otherwise every thread is running a method: the first to finish takes the task.
        }
    }

    // A task may run inline only on a worker: inlining on a pool thread would put user code back there.
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        t_isWorker && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks()
    {
        lock (_gate)
            return [.. _queue];
    }

    private void WorkLoop()
    {
        t_isWorker = true;
        while (true)
        {
            Task task;
            lock (_gate)
            {
                while (_queue.Count == 0)
                {
                    _idle++;
                    Monitor.Wait(_gate);
                }

                task = _queue.Dequeue();
            }

            TryExecuteTask(task);
        }
    }
}
