using System.Globalization;

namespace Lab.Testing;

/// <summary>
/// The line printed before each step of a long run: <c>[3/12] server-killed  elapsed 0:41, about 2:10 left</c>.
/// The estimate is the average time of the steps done so far times the steps still to run; before the
/// first step ends there is nothing to average, so it says so.
/// </summary>
public static class ProgressLine
{
    /// <param name="step">1-based number of the step about to start.</param>
    /// <param name="total">How many steps the run has.</param>
    /// <param name="name">What the step is (a scenario or workload name).</param>
    /// <param name="elapsed">Time since the run started.</param>
    public static string Format(int step, int total, string name, TimeSpan elapsed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(step, total);
        int done = step - 1;
        string left = done == 0
            ? "no estimate yet"
            : $"about {Clock(elapsed / done * (total - done))} left";
        return $"[{step}/{total}] {name}  elapsed {Clock(elapsed)}, {left}";
    }

    /// <summary>A duration as a clock shows it: <c>2:05</c>, or <c>1:02:05</c> past an hour.</summary>
    public static string Clock(TimeSpan time) => time.TotalHours >= 1
        ? time.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)
        : time.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}
