using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace Lab.Server;

/// <summary>
/// Where user methods run, and how many at once. Each call takes a slot and runs on a method thread of the
/// server's own, never on a thread-pool thread; at most <c>max_concurrent_calls</c> slots are taken at once,
/// and a call beyond that is refused (ServerBusy) instead of queued.
/// </summary>
/// <remarks>
/// <para>
/// Why threads of our own: a user method may block its thread (<c>Thread.Sleep</c>, a lock, synchronous
/// I/O), and .NET cannot take a thread back from it. The thread pool also runs every connection's socket
/// I/O, so methods blocked on pool threads would leave none to read the next request, on any connection.
/// The connection never waits on a method thread: it awaits the method's task, up to the method timeout
/// (see <see cref="ServerStub.DispatchAsync"/>). Method threads are background threads, so a method that
/// never returns does not keep the process alive after a stop.
/// </para>
/// <para>
/// Why a bound: a method that never returns keeps its thread and its slot for good. Without a bound, a
/// client calling such a method again and again would take a thread each time.
/// </para>
/// <para>
/// Why reuse threads: starting a thread for every call would cost more than most calls do. A method
/// thread that finishes takes the next call waiting, or waits up to <see cref="IdleTime"/> for one and then
/// ends; a call that finds no thread waiting gets a new one. So a busy server keeps a few threads, and a
/// burst of blocking calls leaves no crowd of idle threads behind.
/// </para>
/// <para>Concurrency: every public member may be called from any thread. <see cref="_gate"/> guards
/// <see cref="_queue"/>, <see cref="_waiting"/> and <see cref="_running"/>; method threads wait on it.</para>
/// <example>
/// <code>
/// var slots = new CallSlots(maxConcurrentCalls: 64);
/// if (slots.TryStart("add", () => method.InvokeAsync(arguments), out Task&lt;object?&gt;? running, out _)) await running;
/// </code>
/// </example>
/// </remarks>
public sealed class CallSlots(int maxConcurrentCalls)
{
    /// <summary>How long a method thread with nothing to do waits for a call before it ends.</summary>
    public static readonly TimeSpan IdleTime = TimeSpan.FromSeconds(5);

    // A method's own stack: room for ordinary recursion. A thread only uses the memory its stack touches,
    // but 1,000 blocked calls still reserve 1,000 stacks of address space.
    private const int StackSize = 512 * 1024;

    // An object, not a System.Threading.Lock: method threads wait on it with Monitor.Wait.
    private readonly object _gate = new();
    private readonly Queue<Call> _queue = new();
    private readonly HashSet<Call> _running = [];

    // Method threads waiting on _gate for a call (woken ones included until they take the lock again);
    // each queued call is meant for one of them.
    private int _waiting;

    /// <summary>The bound: calls that may run at once (a call holds its slot until its method really ends).</summary>
    public int MaxConcurrentCalls { get; } = maxConcurrentCalls;

    /// <summary>
    /// Starts <paramref name="method"/> on a method thread, or returns false at once when every slot is taken
    /// (or no thread can be started), with the reason in <paramref name="refusal"/>. The slot is freed when
    /// the method really ends, before <paramref name="running"/> completes, however long after its caller
    /// stopped waiting for it.
    /// </summary>
    public bool TryStart(string name, Func<ValueTask<object?>> method,
        [NotNullWhen(true)] out Task<object?>? running, [NotNullWhen(false)] out string? refusal)
    {
        var call = new Call(name, method);
        lock (_gate)
        {
            if (_running.Count >= MaxConcurrentCalls)
            {
                (running, refusal) = (null, $"all {MaxConcurrentCalls} method slots (max_concurrent_calls) are taken");
                return false;
            }

            _running.Add(call);
            // Every queued call has a waiting thread to take it: a call never waits behind methods that
            // block. With a thread to spare, queue the call and wake one.
            if (_waiting > _queue.Count)
            {
                _queue.Enqueue(call);
                Monitor.Pulse(_gate);
                (running, refusal) = (call.Task, null);
                return true;
            }
        }

        // No thread to spare: a new one, which runs this call first. Started outside the lock, since a start
        // can take a while on a busy machine and the other method threads need the lock to finish their calls.
        try
        {
            new Thread(() => MethodThreadLoop(call), StackSize) { IsBackground = true, Name = "rpc-method" }.Start();
        }
        catch (Exception ex) when (ex is OutOfMemoryException or ThreadStartException)
        {
            // The process may not start more threads (memory, a pids limit): refuse this call, keep serving.
            lock (_gate)
                _running.Remove(call);
            (running, refusal) = (null, $"no thread could be started for the method ({ex.Message})");
            return false;
        }

        (running, refusal) = (call.Task, null);
        return true;
    }

    /// <summary>The methods running now and for how long, e.g. <c>block() for 3.2 s</c> (for the stop's log).</summary>
    public IReadOnlyList<string> DescribeRunning()
    {
        lock (_gate)
            return [.. _running.Select(call => $"{call.Name}() for {Stopwatch.GetElapsedTime(call.Started).TotalSeconds:0.0} s")];
    }

    private void MethodThreadLoop(Call first)
    {
        Run(first);
        while (TryTakeCall(out Call? call))
            Run(call);
    }

    private bool TryTakeCall([NotNullWhen(true)] out Call? call)
    {
        lock (_gate)
        {
            while (!_queue.TryDequeue(out call))
            {
                _waiting++;
                bool woken = Monitor.Wait(_gate, IdleTime);
                _waiting--;
                if (!woken && _queue.Count == 0)
                    return false;
            }

            return true;
        }
    }

    // Runs the method on this thread up to its first await; an async method's rest runs where its awaits
    // resume, as any .NET async code does.
    private void Run(Call call)
    {
        ValueTask<object?> running;
        try
        {
            running = call.Method();
        }
        catch (Exception ex)
        {
            running = ValueTask.FromException<object?>(ex);
        }

        if (running.IsCompleted)
            End(call, running);
        else
            running.AsTask().ContinueWith((task, state) => ((CallSlots)state!).End(call, new ValueTask<object?>(task)),
                this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    // The slot is freed before the call's task completes: a caller that has its answer and calls again
    // never finds its own slot still taken.
    private void End(Call call, ValueTask<object?> ended)
    {
        lock (_gate)
            _running.Remove(call);
        if (ended.IsCompletedSuccessfully)
            call.TrySetResult(ended.Result);
        else
            call.TrySetFromTask(ended.AsTask());
    }

    // One call: the method to run, and the task its caller waits on. Continuations of that task run on the
    // thread that completes it (no RunContinuationsAsynchronously), so the connection writes the reply on
    // the method thread that just finished, without waking yet another thread.
    private sealed class Call(string name, Func<ValueTask<object?>> method) : TaskCompletionSource<object?>
    {
        public string Name { get; } = name;

        public Func<ValueTask<object?>> Method { get; } = method;

        public long Started { get; } = Stopwatch.GetTimestamp();
    }
}
