using System.Diagnostics;

namespace Lab.Bench;

/// <summary>
/// Drives N callers concurrently for a warm-up and a measured window, and merges what they
/// recorded: calls completed inside the window, their latencies, and every error.
/// </summary>
/// <remarks>
/// <para>
/// No lab class. Each worker is a closed loop (send, wait for the reply, send again), so N workers
/// are N clients each with one call in flight. A call counts when it completes inside the window;
/// its latency is taken with <see cref="Stopwatch.GetTimestamp"/> and recorded in the worker's own
/// <see cref="LatencyHistogram"/>, so workers share nothing while running.
/// </para>
/// <para>
/// Every call is on a deadline: one <see cref="CancellationTokenSource"/> per worker, re-armed with
/// <c>CancelAfter</c> for each call and reset after it, so a hung server shows as a timed-out call.
/// </para>
/// <example>
/// <code>
/// LoadResult result = await LoadRun.RunAsync(options, _ => new RawWireCaller(endpoint, 0, false), token);
/// Console.WriteLine($"{result.CallsPerSecond:0} calls/s, p50 {result.P50Microseconds:0} µs");
/// </code>
/// </example>
/// </remarks>
public static class LoadRun
{
    // Opening 1,000 connections at once would overflow the listener's accept queue; open them in waves.
    private const int ConcurrentOpens = 64;

    /// <summary>Runs the load and returns what it measured.</summary>
    /// <param name="options">Callers, window, warm-up and call deadline.</param>
    /// <param name="createCaller">Makes the caller for worker i.</param>
    /// <param name="cancellationToken">Stops the run early (the benchmark was interrupted).</param>
    public static async Task<LoadResult> RunAsync(
        LoadOptions options,
        Func<int, Caller> createCaller,
        CancellationToken cancellationToken = default)
    {
        var workers = new Worker[options.Connections];
        for (int i = 0; i < workers.Length; i++)
        {
            workers[i] = new Worker(createCaller(i), options.CallTimeout, cancellationToken);
        }

        try
        {
            // Connections are opened before the clock starts: the persistent workloads measure calls,
            // not connection set-up.
            await Parallel.ForEachAsync(
                workers,
                new ParallelOptions { MaxDegreeOfParallelism = ConcurrentOpens, CancellationToken = cancellationToken },
                async (worker, token) => await worker.OpenAsync(token));

            long measureFrom = Stopwatch.GetTimestamp() + (long)(options.Warmup.TotalSeconds * Stopwatch.Frequency);
            long measureUntil = measureFrom + (long)(options.Duration.TotalSeconds * Stopwatch.Frequency);
            await Task.WhenAll(workers.Select(worker => Task.Run(() => worker.RunAsync(measureFrom, measureUntil), cancellationToken)));
        }
        finally
        {
            foreach (Worker worker in workers)
            {
                await worker.DisposeAsync();
            }
        }

        var latency = new LatencyHistogram();
        long calls = 0;
        long errors = 0;
        string? firstError = null;
        foreach (Worker worker in workers)
        {
            latency.Add(worker.Latency);
            calls += worker.Calls;
            errors += worker.Errors;
            firstError ??= worker.FirstError;
        }

        return new LoadResult(calls, errors, options.Duration.TotalSeconds, latency, firstError);
    }

    private sealed class Worker(Caller caller, TimeSpan callTimeout, CancellationToken stopping) : IAsyncDisposable
    {
        private CancellationTokenSource _deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);

        public LatencyHistogram Latency { get; } = new();

        public long Calls { get; private set; }

        public long Errors { get; private set; }

        public string? FirstError { get; private set; }

        public async Task OpenAsync(CancellationToken cancellationToken)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(callTimeout);
            try
            {
                await caller.OpenAsync(deadline.Token);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // The worker will try again on its first call; the failure still counts.
                RecordError(ex, deadline.IsCancellationRequested, "connect");
                caller.Abandon();
            }
        }

        public async Task RunAsync(long measureFrom, long measureUntil)
        {
            while (!stopping.IsCancellationRequested)
            {
                long started = Stopwatch.GetTimestamp();
                if (started >= measureUntil)
                {
                    return;
                }

                bool succeeded = true;
                _deadline.CancelAfter(callTimeout);
                try
                {
                    await caller.CallAsync(_deadline.Token);
                }
                catch (Exception ex) when (!stopping.IsCancellationRequested)
                {
                    succeeded = false;
                    RecordError(ex, _deadline.IsCancellationRequested, "call");
                    caller.Abandon();
                }

                long finished = Stopwatch.GetTimestamp();
                if (!_deadline.TryReset())
                {
                    // A fired source cannot be re-armed: replace it (only after a timeout, so rarely).
                    _deadline.Dispose();
                    _deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                }

                if (succeeded && finished >= measureFrom && finished <= measureUntil)
                {
                    Calls++;
                    Latency.Record(finished - started);
                }
            }
        }

        private void RecordError(Exception ex, bool timedOut, string phase)
        {
            Errors++;
            FirstError ??= timedOut
                ? $"{phase} timed out after {callTimeout.TotalSeconds:0.###} s"
                : $"{phase} failed: {ex.GetType().Name}: {ex.Message}";
        }

        public async ValueTask DisposeAsync()
        {
            await caller.DisposeAsync();
            _deadline.Dispose();
        }
    }
}
