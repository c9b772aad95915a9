using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Lab.Scenarios;

/// <summary>
/// Several scenarios at a time, on a terminal: each scenario's timeline is printed whole when it ends,
/// and below the printed text Spectre.Console keeps a live block, redrawn in place, of how many are
/// done and which are running, with their time so far. <see cref="PlainProgress"/> is the same story
/// for a file or a pipe, where nothing can be redrawn.
/// </summary>
/// <remarks>
/// Concurrency: lanes start and finish at once; <c>_gate</c> guards the running list and the counts,
/// and serialises the writes of finished timelines (Spectre prints them above the live block). The
/// redraw loop is owned here: started by the constructor, ended and awaited by <see cref="DisposeAsync"/>,
/// which the runner calls before it prints the summary.
/// </remarks>
internal sealed partial class LiveProgress : IScenarioProgress, IAsyncDisposable
{
    private readonly IAnsiConsole _console;
    private readonly int _total;
    private readonly int _lanes;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private readonly Dictionary<ScenarioJob, (TimeSpan Started, StringWriter Timeline)> _running = []; // guarded by _gate
    private int _done; // guarded by _gate
    private int _failed; // guarded by _gate
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _redraw;

    public LiveProgress(IAnsiConsole console, int total, int lanes)
    {
        (_console, _total, _lanes) = (console, total, lanes);
        _redraw = console.Live(Render()).AutoClear(true).StartAsync(RedrawAsync);
    }

    /// <summary>True when the console can redraw in place (a terminal that is not redirected).</summary>
    public static bool IsSupported => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && AnsiConsole.Profile.Capabilities.Ansi;

    public TextWriter Started(ScenarioJob job)
    {
        var timeline = new StringWriter(CultureInfo.InvariantCulture);
        lock (_gate)
        {
            _running[job] = (_clock.Elapsed, timeline);
        }

        return TextWriter.Synchronized(timeline);
    }

    public void Finished(ScenarioJob job, ScenarioResult result, TextWriter timeline)
    {
        lock (_gate)
        {
            _running.Remove(job, out var entry);
            _done++;
            _failed += result.Outcome == ScenarioOutcome.Fail ? 1 : 0;
            // One write for the whole timeline: the live block is redrawn once below it, not once a line.
            string[] lines = (entry.Timeline?.ToString() ?? "").ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
            _console.Write(new Markup(string.Join('\n', lines.Select(Colourise)) + "\n"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _redraw;
        _stop.Dispose();
    }

    private async Task RedrawAsync(LiveDisplayContext live)
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                live.UpdateTarget(Render());
                await Task.Delay(TimeSpan.FromMilliseconds(250), _stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // The runner is done: AutoClear removes the block before the summary is printed.
        }
    }

    private IRenderable Render()
    {
        lock (_gate)
        {
            TimeSpan now = _clock.Elapsed;
            List<IRenderable> rows =
            [
                new Markup(string.Create(CultureInfo.InvariantCulture,
                    $"[bold]{_done}/{_total} done[/], {(_failed == 0 ? "0 failed" : $"[red bold]{_failed} failed[/]")}, {_running.Count} running ({_lanes} at a time)  elapsed {now:m\\:ss}")),
            ];
            foreach ((ScenarioJob job, (TimeSpan started, _)) in _running.OrderBy(pair => pair.Value.Started))
            {
                rows.Add(new Markup(string.Create(CultureInfo.InvariantCulture, $"  [yellow]running[/] {Markup.Escape(job.Name)}  {(now - started).TotalSeconds:0}s")));
            }

            return new Rows(rows);
        }
    }

    // The verdict words in colour, as ColourWriter colours them for the one-at-a-time run; the rest as it is.
    private static string Colourise(string line) => Verdict().Replace(Markup.Escape(line), match => match.Value switch
    {
        "PASS" or "[[ok]]" => $"[green bold]{match.Value}[/]",
        "SKIP" or "WARN" => $"[yellow]{match.Value}[/]",
        _ => $"[red bold]{match.Value}[/]",
    });

    [GeneratedRegex(@"\[\[ok\]\]|\[\[FAIL\]\]|(?<![\w-])(?:PASS|FAIL|SKIP|WARN|ERROR)(?![\w-])", RegexOptions.CultureInvariant)]
    private static partial Regex Verdict();
}
