using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Lab.Scenarios;

/// <summary>
/// What a run leaves for the grader: a summary table on the console, and a Markdown report (table
/// plus every scenario's narration) with a JSON twin for tools.
/// </summary>
/// <example>
/// <code>
/// ScenarioReport.WriteSummary(Console.Out, results, totalTime);
/// (string markdown, string json) = ScenarioReport.Save(results, totalTime, "scenario-reports/run.md");
/// </code>
/// </example>
internal static class ScenarioReport
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    /// <summary>The default report path: <c>&lt;repo&gt;/scenario-reports/scenarios-YYYYMMDD-HHMMSS.md</c>.</summary>
    public static string DefaultPath(string repositoryRoot) =>
        Path.Combine(repositoryRoot, "scenario-reports", $"scenarios-{DateTime.Now:yyyyMMdd-HHmmss}.md");

    /// <summary>The table printed at the end of every run; then the rubric's score lines, if any (<see cref="Rubric.Score"/>).</summary>
    public static void WriteSummary(TextWriter output, IReadOnlyList<ScenarioResult> results, TimeSpan total, IReadOnlyList<string>? score = null)
    {
        int width = Math.Max(8, results.Count == 0 ? 0 : results.Max(result => result.Name.Length));
        output.WriteLine();
        output.WriteLine("Summary");
        output.WriteLine($"  {"scenario".PadRight(width)}  result  time");
        output.WriteLine($"  {new string('-', width)}  ------  ------");
        foreach (ScenarioResult result in results)
        {
            string verdict = result.Outcome.ToString().ToUpperInvariant();
            string line = string.Create(CultureInfo.InvariantCulture, $"  {result.Name.PadRight(width)}  {verdict,-6}  {result.Duration.TotalSeconds,5:0.0}s");
            output.WriteLine(result.Reason is null || result.Outcome == ScenarioOutcome.Pass ? line : $"{line}  {result.Reason}");
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Count(results, ScenarioOutcome.Pass)} passed, {Count(results, ScenarioOutcome.Fail)} failed, {Count(results, ScenarioOutcome.Skip)} skipped in {total.TotalSeconds:0.0} s"));
        foreach (string line in score ?? [])
        {
            output.WriteLine(line);
        }
    }

    /// <summary>
    /// Writes the Markdown report to <paramref name="path"/> (".md" added if it has another extension)
    /// and the JSON report next to it; returns both paths.
    /// </summary>
    public static (string Markdown, string Json) Save(IReadOnlyList<ScenarioResult> results, TimeSpan total, string path, IReadOnlyList<string>? score = null)
    {
        string markdownPath = Path.GetFullPath(Path.GetExtension(path).Equals(".md", StringComparison.OrdinalIgnoreCase) ? path : path + ".md");
        string jsonPath = Path.ChangeExtension(markdownPath, ".json");
        Directory.CreateDirectory(Path.GetDirectoryName(markdownPath)!);
        File.WriteAllText(markdownPath, Markdown(results, total, score ?? []));
        File.WriteAllText(jsonPath, JsonSerializer.Serialize(new
        {
            finished = DateTimeOffset.Now,
            os = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            total_seconds = Math.Round(total.TotalSeconds, 1),
            passed = Count(results, ScenarioOutcome.Pass),
            failed = Count(results, ScenarioOutcome.Fail),
            skipped = Count(results, ScenarioOutcome.Skip),
            score,
            scenarios = results.Select(result => new
            {
                name = result.Name,
                requirement = result.Requirement,
                outcome = result.Outcome.ToString().ToUpperInvariant(),
                reason = result.Reason,
                seconds = Math.Round(result.Duration.TotalSeconds, 1),
                narration = result.Narration,
            }),
        }, JsonOptions));
        return (markdownPath, jsonPath);
    }

    private static string Markdown(IReadOnlyList<ScenarioResult> results, TimeSpan total, IReadOnlyList<string> score)
    {
        var text = new StringBuilder();
        text.AppendLine("# RpcLab scenario report").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Run finished {DateTimeOffset.Now:yyyy-MM-dd HH:mm:ss zzz} on {System.Runtime.InteropServices.RuntimeInformation.OSDescription}: ")
            .AppendLine(CultureInfo.InvariantCulture, $"**{Count(results, ScenarioOutcome.Pass)} passed, {Count(results, ScenarioOutcome.Fail)} failed, {Count(results, ScenarioOutcome.Skip)} skipped** in {total.TotalSeconds:0.0} s.")
            .AppendLine();
        text.AppendLine("| scenario | result | time | requirement | reason |").AppendLine("|---|---|---|---|---|");
        foreach (ScenarioResult result in results)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {result.Name} | {result.Outcome.ToString().ToUpperInvariant()} | {result.Duration.TotalSeconds:0.0} s | {Cell(result.Requirement)} | {Cell(result.Reason ?? "")} |");
        }

        foreach (ScenarioResult result in results)
        {
            text.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"## {result.Name}: {result.Verdict}").AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"Requirement: {result.Requirement}").AppendLine();
            text.AppendLine("```text");
            foreach (string line in result.Narration)
            {
                text.AppendLine(line);
            }

            text.AppendLine("```");
        }

        if (score.Count > 0)
        {
            text.AppendLine().AppendLine("## Score").AppendLine().AppendLine("```text");
            foreach (string line in score)
            {
                text.AppendLine(line);
            }

            text.AppendLine("```");
        }

        return text.ToString();
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");

    private static int Count(IReadOnlyList<ScenarioResult> results, ScenarioOutcome outcome) => results.Count(result => result.Outcome == outcome);
}
