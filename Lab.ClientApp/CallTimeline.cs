using System.Globalization;

namespace Lab.ClientApp;

/// <summary>When the calls of a <c>--duration</c> run completed and how long each took, in phases (each line
/// of <see cref="FollowMarks">the marks</see>, e.g. <c>frozen</c> right after a server was stopped,
/// starts one), so a stall shows as the longest gap without a completed call. Safe from every worker
/// at once; <see cref="_gate"/> guards all fields.</summary>
/// <example><code>
/// timeline.Completed(latency);   // after each successful call
/// timeline.WriteSummary(output); // "Phase frozen (from 5.2 s): 812 calls, p50 0.41 ms, p99 2.90 ms, max 4.41 ms, longest gap 0.12 s"
/// </code></example>
/// <param name="time">The clock; tests pass a fake one.</param>
public sealed class CallTimeline(TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private readonly long _started = (time ?? TimeProvider.System).GetTimestamp();
    private readonly List<Phase> _phases = [new("start", TimeSpan.Zero)];
    private TimeSpan _lastCompleted;
    private TimeSpan _longestGap;

    public void StartPhase(string name)
    {
        lock (_gate)
            _phases.Add(new Phase(name, _time.GetElapsedTime(_started)));
    }

    /// <summary>Starts a phase for each line of <paramref name="marks"/> (the program's standard input). A
    /// console read blocks its thread and cannot be cancelled, so a background thread reads; it ends
    /// with the input or with the process.</summary>
    public void FollowMarks(TextReader marks) => new Thread(() =>
    {
        try
        {
            while (marks.ReadLine() is { } line)
                StartPhase(line.Trim());
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // No more input: the current phase lasts to the end.
        }
    }) { IsBackground = true, Name = "phase marks" }.Start();

    public void Completed(TimeSpan latency) => Record(latency);

    /// <summary>The longest gap, then one line per phase; the time since the last completion counts as a gap too.</summary>
    public void WriteSummary(TextWriter output)
    {
        Record(latency: null);
        lock (_gate)
        {
            output.WriteLine(Invariant($"Longest gap without a completed call: {_longestGap.TotalSeconds:0.00} s"));
            foreach (Phase phase in _phases)
            {
                List<double> sorted = [.. phase.Milliseconds.Order()];
                output.WriteLine(Invariant($"Phase {phase.Name} (from {phase.From.TotalSeconds:0.0} s): {sorted.Count} calls, p50 {Percentile(sorted, 0.50):0.00} ms, p99 {Percentile(sorted, 0.99):0.00} ms, max {Percentile(sorted, 1):0.00} ms, longest gap {phase.LongestGap.TotalSeconds:0.00} s"));
            }
        }
    }

    // A gap ends at a completion (or at the summary) and belongs to the phase it ends in.
    private void Record(TimeSpan? latency)
    {
        lock (_gate)
        {
            TimeSpan now = _time.GetElapsedTime(_started), gap = now - _lastCompleted;
            Phase phase = _phases[^1];
            phase.LongestGap = gap > phase.LongestGap ? gap : phase.LongestGap;
            _longestGap = gap > _longestGap ? gap : _longestGap;
            if (latency is { } taken)
            {
                _lastCompleted = now;
                phase.Milliseconds.Add(taken.TotalMilliseconds);
            }
        }
    }

    // Nearest rank: the smallest value with at least that share of the calls at or below it.
    private static double Percentile(List<double> sorted, double share) =>
        sorted.Count == 0 ? 0 : sorted[Math.Max(0, (int)Math.Ceiling(share * sorted.Count) - 1)];

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed class Phase(string name, TimeSpan from)
    {
        public string Name { get; } = name;

        public TimeSpan From { get; } = from;

        public List<double> Milliseconds { get; } = [];

        public TimeSpan LongestGap { get; set; }
    }
}
