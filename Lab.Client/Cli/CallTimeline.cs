using System.Globalization;

namespace Lab.Client.Cli;

/// <summary>
/// When the calls of a <c>--duration</c> run completed and how long each took, split into phases
/// (each line on standard input starts one, e.g. <c>frozen</c> right after a server was stopped), so
/// a stall shows as the longest gap without a completed call and a slowdown as the phase's p99.
/// Safe to use from every worker at once; <see cref="_gate"/> guards all fields.
/// </summary>
/// <example>
/// <code>
/// timeline.Completed(latency);    // after each successful call
/// timeline.StartPhase("frozen");  // "Phase frozen (from 5.2 s): 812 calls, p50 0.41 ms, p99 2.90 ms, longest gap 0.12 s"
/// </code>
/// </example>
/// <param name="time">The clock; tests pass a fake one.</param>
public sealed class CallTimeline(TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private readonly long _started = (time ?? TimeProvider.System).GetTimestamp();
    private readonly List<(string Name, TimeSpan From, List<double> Milliseconds, TimeSpan LongestGap)> _phases = [("start", TimeSpan.Zero, [], TimeSpan.Zero)];
    private TimeSpan _lastCompleted;
    private TimeSpan _longestGap;

    /// <summary>The longest stretch without a completed call so far, the start of the run counting as one.</summary>
    public TimeSpan LongestGap
    {
        get
        {
            lock (_gate)
            {
                return _longestGap;
            }
        }
    }

    public void StartPhase(string name)
    {
        lock (_gate)
        {
            _phases.Add((name, _time.GetElapsedTime(_started), [], TimeSpan.Zero));
        }
    }

    public void Completed(TimeSpan latency) => Record(latency);

    /// <summary>The longest gap, then one line per phase; the time since the last completion counts as a gap too.</summary>
    public void WriteSummary(TextWriter output)
    {
        Record(latency: null);
        lock (_gate)
        {
            output.WriteLine(Invariant($"Longest gap without a completed call: {_longestGap.TotalSeconds:0.00} s"));
            foreach ((string name, TimeSpan from, List<double> milliseconds, TimeSpan gap) in _phases)
            {
                milliseconds.Sort();
                output.WriteLine(Invariant($"Phase {name} (from {from.TotalSeconds:0.0} s): {milliseconds.Count} calls, p50 {Percentile(milliseconds, 0.50):0.00} ms, p99 {Percentile(milliseconds, 0.99):0.00} ms, longest gap {gap.TotalSeconds:0.00} s"));
            }
        }
    }

    // A gap ends at a completion, and belongs to the phase that completion falls in.
    private void Record(TimeSpan? latency)
    {
        lock (_gate)
        {
            TimeSpan now = _time.GetElapsedTime(_started);
            TimeSpan gap = now - _lastCompleted;
            (string name, TimeSpan from, List<double> milliseconds, TimeSpan longest) = _phases[^1];
            _phases[^1] = (name, from, milliseconds, gap > longest ? gap : longest);
            _longestGap = gap > _longestGap ? gap : _longestGap;
            if (latency is { } taken)
            {
                _lastCompleted = now;
                milliseconds.Add(taken.TotalMilliseconds);
            }
        }
    }

    // Nearest rank: the smallest value with at least that share of the calls at or below it.
    private static double Percentile(List<double> sorted, double share) =>
        sorted.Count == 0 ? 0 : sorted[Math.Max(0, (int)Math.Ceiling(share * sorted.Count) - 1)];

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
