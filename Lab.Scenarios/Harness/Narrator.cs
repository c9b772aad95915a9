using System.Globalization;
using System.Text.RegularExpressions;

namespace Lab.Scenarios.Harness;

/// <summary>
/// Tells a scenario's story as it happens: what the harness did, the lines the processes printed,
/// each check and its outcome — every line stamped with the time since the scenario started.
/// </summary>
/// <remarks>
/// <code>
/// +0.00s  step   started registry (pid 4242): Lab.Registry -l 127.0.0.1 -p 0
/// +0.61s    registry | INFO  Program: Registry listening on http://127.0.0.1:40123
/// +2.10s  check  [ok] both servers are listed by findAllInstances
/// </code>
/// Concurrency: process lines arrive on reader threads while the scenario narrates; every write
/// goes through <c>_gate</c> so lines never interleave.
/// <example>
/// <code>
/// var narrator = new Narrator(Console.Out);
/// narrator.Step("kill -9 server-2 (pid 4711) under load");
/// narrator.Check(evicted, "the registry evicted server-2");
/// </code>
/// </example>
/// </remarks>
internal sealed partial class Narrator(TextWriter output, TimeProvider? time = null)
{
    private const int MaxEchoedLineLength = 240;

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly long _start = (time ?? TimeProvider.System).GetTimestamp();
    private readonly Lock _gate = new();
    private readonly List<string> _lines = []; // guarded by _gate
    private readonly Dictionary<string, Regex> _hidden = []; // guarded by _gate

    /// <summary>Everything narrated so far (the report keeps it).</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>Seconds since the scenario started.</summary>
    public double ElapsedSeconds => _time.GetElapsedTime(_start).TotalSeconds;

    /// <summary>Something the harness did: started, killed, sent, waited.</summary>
    public void Step(string text) => Write("step ", text);

    /// <summary>A check and its outcome.</summary>
    public void Check(bool passed, string text) => Write("check", (passed ? "[ok]   " : "[FAIL] ") + text);

    /// <summary>A remark that explains the story (what is expected to happen next and why).</summary>
    public void Note(string text) => Write("note ", text);

    /// <summary>Stops echoing <paramref name="processName"/>'s lines that match <paramref name="pattern"/> (heavy load would drown the story); they are still recorded.</summary>
    public void Hide(string processName, Regex pattern)
    {
        lock (_gate)
        {
            _hidden[processName] = pattern;
        }
    }

    /// <summary>Echoes one process line, prefixed by the process name, without its own log timestamp.</summary>
    public void Echo(ManagedProcess process, OutputLine line)
    {
        lock (_gate)
        {
            if (_hidden.TryGetValue(process.Name, out Regex? hidden) && hidden.IsMatch(line.Text))
            {
                return;
            }
        }

        Write("     ", $"  {process.Name,-9}| {Shorten(StripLogTimestamp(line.Text))}");
    }

    /// <summary>A line as the narration shows it: log timestamp removed, very long lines cut.</summary>
    public static string Shorten(string text) =>
        text.Length <= MaxEchoedLineLength ? text : string.Create(CultureInfo.InvariantCulture, $"{text[..MaxEchoedLineLength]}... ({text.Length} chars)");

    /// <summary>Removes the <c>2026-11-25 19:30:01.123 </c> prefix of a log line: the timeline already has a time.</summary>
    public static string StripLogTimestamp(string text) => LogTimestamp().Replace(text, "", 1);

    private void Write(string kind, string text)
    {
        string line = string.Create(CultureInfo.InvariantCulture, $"+{ElapsedSeconds,6:0.00}s  {kind}  {text}");
        lock (_gate)
        {
            _lines.Add(line);
            output.WriteLine(line);
        }
    }

    [GeneratedRegex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ")]
    private static partial Regex LogTimestamp();
}
