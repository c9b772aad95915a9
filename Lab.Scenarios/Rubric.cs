using System.Globalization;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios;

/// <summary>
/// A grading rubric: points per scenario, read from an INI file (<c>--rubric FILE</c>), turned into a
/// score for a run: <c>score: 83 / 100</c>, with the points lost per failed scenario.
/// </summary>
/// <remarks>
/// The file holds <c>scenario-name = points</c> lines (any section, <c>;</c> or <c>#</c> comments).
/// A PASS earns the scenario's points, a FAIL loses them. A SKIP is out of the total: the scenario
/// could not grade this implementation (or this OS), so it neither earns nor loses. A scenario the
/// rubric does not name is worth nothing. Immutable after <see cref="Load"/>.
/// <example>
/// <code>
/// Rubric rubric = Rubric.Load("rubric.ini", ScenarioCatalog.All.Select(scenario => scenario.Name));
/// IReadOnlyList&lt;string&gt; score = rubric.Score(results);   // ..., "score: 83 / 100"
/// </code>
/// </example>
/// </remarks>
internal sealed class Rubric
{
    private Rubric(string path, IReadOnlyDictionary<string, int> points)
    {
        Path = path;
        Points = points;
    }

    public string Path { get; }

    /// <summary>Points per scenario name (case-insensitive).</summary>
    public IReadOnlyDictionary<string, int> Points { get; }

    /// <summary>Reads the rubric, checking each name is a scenario and each value a whole number of points.</summary>
    /// <exception cref="FormatException">A line is not <c>name = points</c>, names no scenario, or is not a number; the message names the file and line.</exception>
    public static Rubric Load(string path, IEnumerable<string> scenarioNames)
    {
        var known = new HashSet<string>(scenarioNames, StringComparer.OrdinalIgnoreCase);
        var points = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (SettingLine line in SettingLines.Read(path))
        {
            if (line.Name is null || !int.TryParse(line.Value, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            {
                throw new FormatException($"{line.Where}: expected \"scenario-name = points\" (a whole number), got \"{line.Text}\"");
            }

            points[line.Name] = known.Contains(line.Name)
                ? value
                : throw new FormatException($"{line.Where}: \"{line.Name}\" is not a scenario (--list shows the names)");
        }

        return new Rubric(path, points);
    }

    /// <summary>The score lines: points lost per failed scenario, then <c>score: X / Y</c>.</summary>
    public IReadOnlyList<string> Score(IReadOnlyList<ScenarioResult> results)
    {
        var lines = new List<string>();
        int earned = 0;
        int total = 0;
        foreach (ScenarioResult result in results)
        {
            int value = Points.GetValueOrDefault(result.Name);
            if (result.Outcome == ScenarioOutcome.Skip || value == 0)
            {
                continue;
            }

            total += value;
            if (result.Outcome == ScenarioOutcome.Pass)
            {
                earned += value;
            }
            else
            {
                lines.Add($"  -{value} {result.Name}: {result.Reason}");
            }
        }

        int skipped = results.Count(result => result.Outcome == ScenarioOutcome.Skip && Points.GetValueOrDefault(result.Name) > 0);
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"score: {earned} / {total}")
                  + (skipped > 0 ? $" ({skipped} skipped scenario(s) not counted)" : ""));
        return lines;
    }
}
