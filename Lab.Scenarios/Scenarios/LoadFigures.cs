using System.Globalization;
using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// What a <c>--duration</c> client's output says about a stretch of time: calls completed, the
/// longest stretch without a completed call, and the calls completed per second — all read from its
/// per-second progress lines (<c>[  3s] 1234 succeeded, 0 failed</c>) and the time each arrived.
/// </summary>
/// <remarks>
/// The progress has a resolution of one line a second, so a stall is known between two bounds:
/// at least the time between the first and last line showing the same count, at most that plus the
/// lines on either side. It is the harness's own cross-check of the finer figures the client prints
/// per phase (p50/p99, the longest gap). The load is paced (<c>--interval</c>), so the rate says how
/// much of the pace the calls kept up with, not how fast the servers could go.
/// <example>
/// <code>
/// LoadFigures during = LoadFigures.Of(client, from: cutAt, to: healedAt);
/// context.Note($"during the cut: {during}");
/// </code>
/// </example>
/// </remarks>
internal sealed partial record LoadFigures(long Completed, long Failed, TimeSpan StallAtLeast, TimeSpan StallAtMost, TimeSpan Span)
{
    /// <summary>The figures of the progress lines that arrived between <paramref name="from"/> and <paramref name="to"/>.</summary>
    public static LoadFigures Of(ManagedProcess client, DateTimeOffset from, DateTimeOffset to)
    {
        (DateTimeOffset Time, long Succeeded, long Failed)[] ticks = [.. client.Lines
            .Select(line => (line, match: ProgressLine().Match(line.Text)))
            .Where(pair => pair.match.Success)
            .Select(pair => (pair.line.Time, Number(pair.match.Groups["ok"]), Number(pair.match.Groups["failed"])))];
        int first = Array.FindLastIndex(ticks, tick => tick.Time <= from);
        int last = Array.FindIndex(ticks, tick => tick.Time >= to);
        first = Math.Max(first, 0);
        last = last < 0 ? ticks.Length - 1 : last;
        if (ticks.Length == 0 || last <= first)
        {
            return new LoadFigures(0, 0, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero);
        }

        TimeSpan atLeast = TimeSpan.Zero;
        TimeSpan atMost = TimeSpan.Zero;
        for (int start = first; start <= last; start++)
        {
            int end = start;
            while (end + 1 <= last && ticks[end + 1].Succeeded == ticks[start].Succeeded)
            {
                end++;
            }

            if (end > start)
            {
                atLeast = Max(atLeast, ticks[end].Time - ticks[start].Time);
                atMost = Max(atMost, ticks[Math.Min(end + 1, ticks.Length - 1)].Time - ticks[Math.Max(start - 1, 0)].Time);
            }
        }

        long completed = ticks[last].Succeeded - ticks[first].Succeeded;
        TimeSpan span = ticks[last].Time - ticks[first].Time;
        return new LoadFigures(completed, ticks[last].Failed - ticks[first].Failed, atLeast, atMost, span);
    }

    /// <summary>Calls completed per second, as text, or "n/a" over no time.</summary>
    public string Rate => Span > TimeSpan.Zero ? $"{(Completed / Span.TotalSeconds).ToString("0", CultureInfo.InvariantCulture)} calls/s" : "n/a";

    public override string ToString() =>
        $"{Completed} calls completed and {Failed} failed in {Span.TotalSeconds:0.0} s ({Rate}); "
        + $"longest stretch without a completed call {StallAtLeast.TotalSeconds:0.0} s to {StallAtMost.TotalSeconds:0.0} s (per-second progress)";

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static long Number(Group group) => long.Parse(group.Value, CultureInfo.InvariantCulture);

    private static double Parse(string text) => double.Parse(text, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^\[\s*\d+s\] (?<ok>\d+) succeeded, (?<failed>\d+) failed")]
    private static partial Regex ProgressLine();
}
