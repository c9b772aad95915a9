using System.Globalization;
using System.Text.RegularExpressions;

namespace Lab.Scenarios.Grading;

/// <summary>
/// The class grader's progress line: students done, running (with how far each is) and left, and
/// an estimate of the time to go:
/// <c>[grading 0:41] 3 done, 2 running (alice 5/26, bob 12/26), 15 left; about 4:10 to go</c>.
/// </summary>
/// <remarks>
/// <para>
/// The estimate counts scenarios, not students: a student's grading is as long as its scenarios, and
/// the children report each one as it starts (the <c>[k/N] name</c> line of <c>ProgressLine</c>).
/// Scenarios done so far over the time they took is the rate; the scenarios still to run over that
/// rate is the time to go. Before the first scenario ends there is nothing to divide, and it says so.
/// </para>
/// <para>
/// A line is printed when a student starts or ends, and otherwise at most every
/// <see cref="QuietPeriod"/>, so a class of a hundred does not flood the terminal.
/// Concurrency: every member may be called from any thread (children report on their reader threads); <c>_gate</c> guards the state.
/// </para>
/// <example>
/// <code>
/// var progress = new GradingProgress(students: 20, scenariosEach: 26, Console.Out);
/// progress.Started("alice");
/// progress.ChildLine("alice", "[5/26] graceful-stop  elapsed 0:41, about 2:10 left");
/// progress.Finished("alice", "83 / 100");
/// </code>
/// </example>
/// </remarks>
internal sealed partial class GradingProgress(int students, int scenariosEach, TextWriter output, TimeProvider? time = null)
{
    /// <summary>The shortest time between two lines that no student's start or end prompted.</summary>
    public static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly long _start = (time ?? TimeProvider.System).GetTimestamp();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _running = []; // guarded by _gate: student -> scenarios finished
    private int _done; // guarded by _gate
    private TimeSpan _lastLine = TimeSpan.MinValue; // guarded by _gate

    public void Started(string student)
    {
        lock (_gate)
        {
            _running[student] = 0;
            Print($"{student} started");
        }
    }

    /// <summary>A line the student's grader printed; a <c>[k/N] scenario</c> line means k-1 of its scenarios are done.</summary>
    public void ChildLine(string student, string line)
    {
        Match match = ScenarioStarting().Match(line);
        if (!match.Success)
        {
            return;
        }

        lock (_gate)
        {
            if (_running.ContainsKey(student))
            {
                _running[student] = int.Parse(match.Groups["step"].Value, CultureInfo.InvariantCulture) - 1;
                if (Elapsed - _lastLine >= QuietPeriod)
                {
                    Print(null);
                }
            }
        }
    }

    public void Finished(string student, string outcome)
    {
        lock (_gate)
        {
            _running.Remove(student);
            _done++;
            Print($"{student} finished: {outcome}");
        }
    }

    /// <summary>The progress line as it stands (without the event that prompted it).</summary>
    public string Line()
    {
        lock (_gate)
        {
            return Format();
        }
    }

    private TimeSpan Elapsed => _time.GetElapsedTime(_start);

    // Callers hold _gate.
    private void Print(string? what)
    {
        _lastLine = Elapsed;
        output.WriteLine(what is null ? Format() : $"{Format()}  <- {what}");
    }

    private string Format()
    {
        TimeSpan elapsed = Elapsed;
        int left = students - _done - _running.Count;
        string running = _running.Count == 0
            ? "0 running"
            : $"{_running.Count} running ({string.Join(", ", _running.OrderBy(pair => pair.Key, StringComparer.Ordinal).Select(pair => $"{pair.Key} {pair.Value}/{scenariosEach}"))})";
        int scenariosDone = (_done * scenariosEach) + _running.Values.Sum();
        int scenariosLeft = (students * scenariosEach) - scenariosDone;
        string toGo = scenariosDone == 0
            ? "no estimate yet"
            : $"about {ProgressLine.Clock(elapsed / scenariosDone * scenariosLeft)} to go";
        return $"[grading {ProgressLine.Clock(elapsed)}] {_done} done, {running}, {left} left; {toGo}";
    }

    // ProgressLine.Format's "[k/N] name  elapsed ..." printed before each scenario.
    [GeneratedRegex(@"^\[(?<step>\d+)/(?<total>\d+)\] \S+")]
    private static partial Regex ScenarioStarting();
}
