using System.Diagnostics;
using System.Globalization;
using Lab.Testing;

namespace Lab.Scenarios;

/// <summary>
/// One scenario at a time: <c>[3/12] server-killed  elapsed 0:41, about 2:10 left</c> before each,
/// then its narration as it happens, straight to the console.
/// </summary>
internal sealed class StreamingProgress(TextWriter output, int total) : IScenarioProgress
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _started;

    public TextWriter Started(ScenarioJob job)
    {
        output.WriteLine();
        output.WriteLine(ProgressLine.Format(Interlocked.Increment(ref _started), total, job.Name, _clock.Elapsed));
        return output;
    }

    public void Finished(ScenarioJob job, ScenarioResult result, TextWriter timeline)
    {
    }
}

/// <summary>
/// Several scenarios at a time, in plain text (a file, a pipe, the tests): each scenario's timeline is
/// kept until it ends and then printed whole, followed by one line saying how many are done and which
/// are still running: <c>[12/40 done, 0 failed] elapsed 0:41; running: etcd-quorum-lost 25s, graceful-stop 1s</c>.
/// </summary>
/// <remarks>Concurrency: lanes start and finish at once; <c>_gate</c> guards the running list and keeps a timeline and its status line together.</remarks>
internal sealed class PlainProgress : IScenarioProgress
{
    private readonly TextWriter _output;
    private readonly int _total;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private readonly Dictionary<ScenarioJob, TimeSpan> _running = []; // guarded by _gate: job -> when it started
    private readonly Dictionary<ScenarioJob, StringWriter> _timelines = []; // guarded by _gate
    private int _done; // guarded by _gate
    private int _failed; // guarded by _gate

    public PlainProgress(TextWriter output, int total, int lanes)
    {
        (_output, _total) = (output, total);
        output.WriteLine();
        output.WriteLine($"running {total} scenarios, {lanes} at a time; each timeline is printed whole when its scenario ends");
    }

    public TextWriter Started(ScenarioJob job)
    {
        var timeline = new StringWriter(CultureInfo.InvariantCulture);
        lock (_gate)
        {
            _running[job] = _clock.Elapsed;
            _timelines[job] = timeline;
        }

        // The narrator writes from the programs' reader threads as well as the scenario's own.
        return TextWriter.Synchronized(timeline);
    }

    public void Finished(ScenarioJob job, ScenarioResult result, TextWriter timeline)
    {
        lock (_gate)
        {
            _running.Remove(job);
            _timelines.Remove(job, out StringWriter? text);
            _done++;
            _failed += result.Outcome == ScenarioOutcome.Fail ? 1 : 0;
            _output.Write(text?.ToString());
            _output.WriteLine(StatusLine());
        }
    }

    // Called under _gate.
    private string StatusLine()
    {
        TimeSpan now = _clock.Elapsed;
        string running = _running.Count == 0
            ? "none running"
            : "running: " + string.Join(", ", _running.OrderBy(pair => pair.Value).Select(pair => $"{pair.Key.Name} {(now - pair.Value).TotalSeconds:0}s"));
        return string.Create(CultureInfo.InvariantCulture, $"[{_done}/{_total} done, {_failed} failed] elapsed {now:m\\:ss}; {running}");
    }
}
