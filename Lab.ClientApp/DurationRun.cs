using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Lab.Client;

namespace Lab.ClientApp;

/// <summary><c>--duration SECONDS --concurrency N [--interval MS]</c>: N workers call <c>add</c> for that long —
/// back to back, or each at most once every <see cref="Interval"/> — the steady load the scenarios keep
/// on while they kill servers and restart the registry. Prints
/// <c>[  3s] 1234 succeeded, 0 failed</c> each second, then the per-server summary and the
/// <see cref="CallTimeline"/> (longest gap, latency per phase); exit code 1 if any call failed. Each
/// line read from <c>phaseMarks</c> (the program's standard input) starts a new phase. Ctrl+C ends the
/// run early with the same summary: the scenarios stop their load that way when their story ends.</summary>
public sealed class DurationRun(RpcClient client, TimeSpan duration, int concurrency, TextWriter output, TextWriter error, TextReader? phaseMarks = null)
{
    // A stream of failures would bury the summary; the first few say what went wrong.
    private const int MaxFailuresShown = 20;

    private static readonly TimeSpan NoServerPause = TimeSpan.FromMilliseconds(100);

    /// <summary>How long a call still running when the duration ends (or Ctrl+C stops the run) may take to
    /// finish before it is cut off and counted as failed, so the run ends within this of SECONDS whatever the
    /// servers do. A call to a healthy server ends in milliseconds; one stuck on a frozen server would
    /// otherwise last until its call_deadline.</summary>
    public static readonly TimeSpan EndGrace = TimeSpan.FromSeconds(2);

    private readonly TextWriter _output = TextWriter.Synchronized(output);
    private readonly TextWriter _error = TextWriter.Synchronized(error);
    private readonly CallTally _tally = new();
    private readonly CallTimeline _timeline = new();
    private int _failuresShown;

    /// <summary>
    /// The least time between the starts of one worker's calls; zero: back to back. A paced load still
    /// shows a stall (a call stuck for seconds stops its worker's completions just the same) without
    /// taking every core the machine has, which the other programs of a scenario — or other scenarios
    /// running beside it — need.
    /// </summary>
    public TimeSpan Interval { get; init; }

    /// <param name="cancellationToken">Ctrl+C or SIGTERM: end the run now, as its duration would — no new
    /// call starts, calls in progress get <see cref="EndGrace"/> — and print the summary after a
    /// <c>Stopped early</c> line. Every call started is counted, so "0 failed" means the same as after a full run.</param>
    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(concurrency, 1);
        var stopwatch = Stopwatch.StartNew();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(duration);
        // The run ends at the duration or at Ctrl+C, whichever comes first; either way calls in progress get EndGrace.
        using var cutOff = new CancellationTokenSource();
        using CancellationTokenRegistration graceAfterEnd = deadline.Token.Register(() => cutOff.CancelAfter(EndGrace));
        using var workersDone = new CancellationTokenSource();

        if (phaseMarks is not null)
            _timeline.FollowMarks(phaseMarks);

        Task progress = ReportProgressAsync(stopwatch, workersDone.Token);
        try
        {
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(worker => WorkAsync(worker, deadline.Token, cutOff.Token)));
        }
        finally
        {
            await workersDone.CancelAsync();
            await progress;
        }

        if (cancellationToken.IsCancellationRequested)
            await _output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Stopped early (Ctrl+C or SIGTERM) after {stopwatch.Elapsed.TotalSeconds:0.0} s of {duration.TotalSeconds:0.###} s"));

        _tally.WriteSummary(_output);
        _timeline.WriteSummary(_output);
        return _tally.TotalFailed == 0 ? 0 : 1;
    }

    // The deadline (the duration, or Ctrl+C) only stops a worker from starting another call; a call in
    // progress gets EndGrace to finish, then is cut off and counted as failed.
    private async Task WorkAsync(int worker, CancellationToken deadline, CancellationToken cutOff)
    {
        await Task.Yield();
        // A tick missed while a call was slow is not made up with a burst: PeriodicTimer keeps at most one pending.
        using PeriodicTimer? pacing = Interval > TimeSpan.Zero ? new PeriodicTimer(Interval) : null;
        for (long n = 0; !deadline.IsCancellationRequested; n++)
        {
            if (n > 0 && pacing is not null && !await NextTickAsync(pacing, deadline))
                return;

            object?[] args = [worker, n];
            long started = Stopwatch.GetTimestamp();
            try
            {
                // add is pure, so a call whose server died mid-call may be re-sent elsewhere: this is
                // what keeps "kill -9 one of two servers" at zero failed calls.
                RpcCallResult<JsonElement> result = await client.CallDetailedAsync<JsonElement>(
                    "add", args, options: RpcCallOptions.IdempotentCall, cancellationToken: cutOff);
                string expected = (worker + n + 10).ToString(CultureInfo.InvariantCulture);
                bool correct = DemoRun.SameValue(result.Value, expected);
                _tally.Record(result.Server, correct);
                if (correct)
                    _timeline.Completed(Stopwatch.GetElapsedTime(started));
                else
                    await ShowFailureAsync($"{CallText.Call("add", args)} = {CallText.Value(result.Value)}  [server {result.Server}]  WRONG, expected {expected}");
            }
            catch (OperationCanceledException) when (cutOff.IsCancellationRequested)
            {
                _tally.Failed("(cut off)");
                await ShowFailureAsync($"{CallText.Call("add", args)} cut off: still running {EndGrace.TotalSeconds:0.#} s after the run ended");
                return;
            }
            catch (RpcException ex)
            {
                _tally.Failed(CallText.ServerOf(ex));
                await ShowFailureAsync($"{CallText.Call("add", args)} failed: {CallText.Failure(ex)}");
                if (ex is NoServerAvailableException)
                {
                    // Nothing to call until the registry lists a server again: pause instead of
                    // spinning through failures as fast as the CPU allows (the deadline ends the pause early).
                    await Task.Delay(NoServerPause, deadline).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }
    }

    // False when the run's time is up while waiting for the tick.
    private static async Task<bool> NextTickAsync(PeriodicTimer pacing, CancellationToken deadline)
    {
        try
        {
            return await pacing.WaitForNextTickAsync(deadline);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task ReportProgressAsync(Stopwatch stopwatch, CancellationToken workersDone)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(workersDone))
            {
                int seconds = (int)Math.Round(stopwatch.Elapsed.TotalSeconds);
                await _output.WriteLineAsync($"[{seconds,3}s] {_tally.TotalSucceeded} succeeded, {_tally.TotalFailed} failed");
            }
        }
        catch (OperationCanceledException)
        {
            // The workers finished: no more progress lines.
        }
    }

    private async Task ShowFailureAsync(string line)
    {
        int shown = Interlocked.Increment(ref _failuresShown);
        if (shown <= MaxFailuresShown)
            await _error.WriteLineAsync(line);
        else if (shown == MaxFailuresShown + 1)
            await _error.WriteLineAsync("(further failures are counted but not shown)");
    }
}
