namespace Lab.Scenarios;

/// <summary>One scenario to run in a batch, with the runner (timings, foreign programs) that runs it.</summary>
/// <param name="Label">How progress names it; the scenario's name when null (a class's grading run may say <c>alice/happy-path</c>).</param>
internal sealed record ScenarioJob(Scenario Scenario, ScenarioRunner Runner, string? Label = null)
{
    public string Name => Label ?? Scenario.Name;
}

/// <summary>What a batch tells its watcher: a job started (and where its timeline goes), a job ended.</summary>
/// <remarks>Concurrency: called from the lanes' tasks, several at once; implementations lock what they share.</remarks>
internal interface IScenarioProgress
{
    /// <summary>A lane picked up <paramref name="job"/>; returns where its timeline goes.</summary>
    TextWriter Started(ScenarioJob job);

    /// <summary><paramref name="job"/> ended with <paramref name="result"/>; <paramref name="timeline"/> is the writer <see cref="Started"/> returned.</summary>
    void Finished(ScenarioJob job, ScenarioResult result, TextWriter timeline);
}

/// <summary>
/// Runs scenarios side by side: at most <see cref="Count"/> at once, each in its own lane — its own
/// work directory, config.ini, free ports, namespaces and process group (all of which
/// <see cref="ScenarioRunner.RunAsync(Scenario, TextWriter, CancellationToken)"/> makes per run) — and a
/// scenario that declares <see cref="Scenario.RunsAlone"/> gets the machine to itself.
/// </summary>
/// <remarks>
/// <para>
/// Almost all of a scenario's time is waiting for a real event (a heartbeat, an eviction, a timeout),
/// so on a 2-core machine several can wait at once; what they share is the CPU their programs need to
/// start, which is why the default is a small multiple of the cores, not the number of scenarios.
/// </para>
/// <para>
/// Lanes are handed out first come, first served, so a batch starts its jobs in the order given.
/// <see cref="LaneOrder"/> puts the scenarios that declare a long run first: the batch then ends when
/// the longest one does, instead of with a long one started last.
/// </para>
/// <para>Concurrency: every member is thread-safe; the queue and counts are guarded by <c>_gate</c>.
/// The runner and the test fixture of the catalog share one instance per process.</para>
/// <example>
/// <code>
/// var lanes = new ScenarioLanes(ScenarioLanes.DefaultCount);
/// IReadOnlyList&lt;Task&lt;ScenarioResult&gt;&gt; results = lanes.Start([.. scenarios.Select(s => new ScenarioJob(s, runner))], progress, token);
/// ScenarioResult[] all = await Task.WhenAll(results);
/// </code>
/// </example>
/// </remarks>
internal sealed class ScenarioLanes
{
    private readonly Lock _gate = new();
    private readonly Queue<Waiter> _waiting = []; // guarded by _gate
    private int _busy; // guarded by _gate: lanes in use
    private bool _aloneRunning; // guarded by _gate

    public ScenarioLanes(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Count = count;
    }

    /// <summary>How many scenarios may run at once.</summary>
    public int Count { get; }

    /// <summary>
    /// The default for this machine: three lanes a core (scenarios mostly wait), at least two, and at
    /// most eight — past that, a cold start of every program at once on a small machine stretches the
    /// startup waits more than running side by side saves.
    /// </summary>
    public static int DefaultCount => Math.Clamp(3 * Environment.ProcessorCount, 2, 8);

    /// <summary>The order a batch starts <paramref name="scenarios"/> in: those that run alone, then those that declare a long run (longest first), then the rest as given.</summary>
    public static IReadOnlyList<Scenario> LaneOrder(IEnumerable<Scenario> scenarios) =>
        [.. scenarios.Select((scenario, index) => (scenario, index))
            .OrderByDescending(pair => pair.scenario.RunsAlone)
            .ThenByDescending(pair => pair.scenario.MinimumTimeout ?? TimeSpan.Zero)
            .ThenBy(pair => pair.index)
            .Select(pair => pair.scenario)];

    /// <summary>
    /// Waits for a free lane (for every lane, when <paramref name="alone"/>) and holds it until the
    /// returned object is disposed. First come, first served: a job waiting for the whole machine is
    /// not overtaken by later ones.
    /// </summary>
    public async Task<IDisposable> EnterAsync(bool alone, CancellationToken cancellationToken = default)
    {
        var waiter = new Waiter(alone);
        lock (_gate)
        {
            _waiting.Enqueue(waiter);
            AdmitWaiting();
        }

        // A cancelled wait gives up its place in the queue, and may unblock the waiters behind it.
        await using CancellationTokenRegistration registration = cancellationToken.Register(() =>
        {
            if (waiter.Admitted.TrySetCanceled(cancellationToken))
            {
                lock (_gate)
                {
                    AdmitWaiting();
                }
            }
        });
        await waiter.Admitted.Task;
        return new Lane(this, waiter);
    }

    /// <summary>
    /// Starts every job, each as soon as a lane is free, in the order given; returns one task per job,
    /// in that order. A job not started when <paramref name="cancellationToken"/> fires (Ctrl+C) ends
    /// cancelled; a running one is told through the same token and ends with its verdict.
    /// </summary>
    public IReadOnlyList<Task<ScenarioResult>> Start(IReadOnlyList<ScenarioJob> jobs, IScenarioProgress progress, CancellationToken cancellationToken = default) =>
        [.. jobs.Select(job => RunJobAsync(job, progress, cancellationToken))];

    private async Task<ScenarioResult> RunJobAsync(ScenarioJob job, IScenarioProgress progress, CancellationToken cancellationToken)
    {
        // EnterAsync queues the job before its first await, so the jobs queue up in the order given.
        using IDisposable lane = await EnterAsync(job.Scenario.RunsAlone, cancellationToken);
        TextWriter timeline = progress.Started(job);
        ScenarioResult result = await job.Runner.RunAsync(job.Scenario, timeline, cancellationToken);
        progress.Finished(job, result, timeline);
        return result;
    }

    // Called under _gate: lets in waiters from the front of the queue while lanes allow.
    private void AdmitWaiting()
    {
        while (_waiting.TryPeek(out Waiter? next))
        {
            if (next.Admitted.Task.IsCanceled)
            {
                _waiting.Dequeue();
                continue;
            }

            bool fits = !_aloneRunning && (next.Alone ? _busy == 0 : _busy < Count);
            if (!fits)
            {
                return;
            }

            _waiting.Dequeue();
            if (!next.Admitted.TrySetResult())
            {
                continue;
            }

            _busy++;
            _aloneRunning |= next.Alone;
        }
    }

    // Called under _gate.
    private void Leave(Waiter waiter)
    {
        _busy--;
        if (waiter.Alone)
        {
            _aloneRunning = false;
        }

        AdmitWaiting();
    }

    private sealed class Waiter(bool alone)
    {
        public bool Alone { get; } = alone;

        public TaskCompletionSource Admitted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Lane(ScenarioLanes lanes, Waiter waiter) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                lock (lanes._gate)
                {
                    lanes.Leave(waiter);
                }
            }
        }
    }
}
