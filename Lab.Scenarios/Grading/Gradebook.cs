using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Lab.Scenarios.Grading;

/// <summary>One scenario's verdict for one student: PASS, FAIL or SKIP, the reason, and the points it earned.</summary>
internal sealed record GradebookCell(string Scenario, string Outcome, string? Reason, int Points);

/// <summary>One student's row: which programs were theirs, a cell per scenario, the total.</summary>
/// <param name="Student">The submission's folder name.</param>
/// <param name="Slug">The folder of the student's report and logs in the gradebook folder.</param>
/// <param name="Programs">Which programs were the student's and which ours (or the manifest's error).</param>
/// <param name="Cells">The verdicts, in the rubric's order; empty when the submission could not be graded.</param>
/// <param name="Note">Why the row is incomplete (manifest error, grading interrupted or overran), or null.</param>
/// <param name="Seconds">How long the grading took.</param>
internal sealed record GradebookRow(string Student, string Slug, string Programs, IReadOnlyList<GradebookCell> Cells, string? Note, double Seconds)
{
    /// <summary>Points earned: the PASSes.</summary>
    public int Earned => Cells.Where(cell => cell.Outcome == "PASS").Sum(cell => cell.Points);

    /// <summary>Points at stake: PASSes and FAILs (a SKIP is out of the total, as in <see cref="Rubric"/>).</summary>
    public int Possible => Cells.Where(cell => cell.Outcome != "SKIP").Sum(cell => cell.Points);
}

/// <summary>
/// A class's grades: <c>gradebook.csv</c> (student, points per scenario, total) for a spreadsheet,
/// <c>gradebook.html</c> (a row per student, a cell per scenario linking to that scenario's log, the
/// student's name linking to the report) for reading, and <c>gradebook.json</c>, from which a later
/// run that grades some students again keeps the others' rows.
/// </summary>
/// <example>
/// <code>
/// var book = new Gradebook(scenarioNames, rubric, rows, header);
/// book.Save("grades/");   // grades/gradebook.csv, .html, .json
/// </code>
/// </example>
internal sealed class Gradebook(IReadOnlyList<string> scenarios, Rubric rubric, IReadOnlyList<GradebookRow> rows, IReadOnlyList<string> header)
{
    public const string CsvName = "gradebook.csv";
    public const string HtmlName = "gradebook.html";
    public const string JsonName = "gradebook.json";

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public IReadOnlyList<GradebookRow> Rows => rows;

    /// <summary>Turns a submission's scenario results into its row; a scenario the results lack counts as not run (FAIL).</summary>
    public static GradebookRow Row(Submission submission, IReadOnlyList<string> scenarios, Rubric rubric, IReadOnlyList<ScenarioResult> results, string? note, TimeSpan took)
    {
        GradebookCell[] cells = [.. scenarios.Select(name =>
        {
            ScenarioResult? result = results.FirstOrDefault(candidate => candidate.Name == name);
            int points = rubric.Points.GetValueOrDefault(name);
            return result is null
                ? new GradebookCell(name, "FAIL", note ?? "not run", points)
                : new GradebookCell(name, result.Outcome.ToString().ToUpperInvariant(), result.Reason, points);
        })];
        return new GradebookRow(submission.Name, submission.Slug, submission.Describe(), cells, note, Math.Round(took.TotalSeconds, 1));
    }

    /// <summary>The rows a previous run saved in <paramref name="directory"/>, or none.</summary>
    public static IReadOnlyList<GradebookRow> LoadRows(string directory)
    {
        string path = Path.Combine(directory, JsonName);
        return File.Exists(path)
            ? JsonSerializer.Deserialize<SavedGradebook>(File.ReadAllText(path), JsonOptions)?.Rows ?? []
            : [];
    }

    /// <summary>Writes the CSV, the HTML page and the JSON into <paramref name="directory"/>; returns their paths.</summary>
    public IReadOnlyList<string> Save(string directory)
    {
        Directory.CreateDirectory(directory);
        string csv = Path.Combine(directory, CsvName);
        string html = Path.Combine(directory, HtmlName);
        string json = Path.Combine(directory, JsonName);
        File.WriteAllText(csv, Csv());
        File.WriteAllText(html, Html());
        File.WriteAllText(json, JsonSerializer.Serialize(new SavedGradebook(scenarios, rows), JsonOptions));
        return [csv, html, json];
    }

    /// <summary>
    /// The CSV: <c>student,happy-path,...,total,possible,note</c>; a cell holds the points earned
    /// (0 for a FAIL), or is empty for a SKIP (not counted).
    /// </summary>
    public string Csv()
    {
        var text = new StringBuilder();
        text.AppendLine(string.Join(',', ["student", .. scenarios.Select(name => $"{name} ({rubric.Points.GetValueOrDefault(name)})"), "total", "possible", "note"]));
        foreach (GradebookRow row in rows)
        {
            IEnumerable<string> cells = scenarios.Select(name => row.Cells.FirstOrDefault(cell => cell.Scenario == name) is { } cell
                ? cell.Outcome switch { "PASS" => Number(cell.Points), "SKIP" => "", _ => "0" }
                : "");
            text.AppendLine(string.Join(',', [CsvField(row.Student), .. cells, Number(row.Earned), Number(row.Possible), CsvField(row.Note ?? "")]));
        }

        return text.ToString();
    }

    /// <summary>The HTML page: a row per student, a cell per scenario (its points, its reason on hover, a link to its log).</summary>
    public string Html()
    {
        var text = new StringBuilder();
        text.AppendLine("<!DOCTYPE html>").AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\"><title>RpcLab gradebook</title>");
        text.AppendLine("<style>body{font-family:sans-serif}table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:3px 6px;text-align:center}"
                        + "th.s{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal}td.n{text-align:left}"
                        + ".PASS{background:#d8f5d0}.FAIL{background:#f8d0d0}.SKIP{background:#eee;color:#777}a{color:inherit}</style></head><body>");
        text.AppendLine("<h1>RpcLab gradebook</h1>");
        foreach (string line in header)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"<p>{Encode(line)}</p>");
        }

        text.AppendLine("<table><thead><tr><th>student</th><th>programs</th>");
        foreach (string name in scenarios)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"<th class=\"s\">{Encode(name)} ({rubric.Points.GetValueOrDefault(name)})</th>");
        }

        text.AppendLine("<th>total</th><th>note</th></tr></thead><tbody>");
        foreach (GradebookRow row in rows)
        {
            string report = $"{Uri.EscapeDataString(row.Slug)}/report.md";
            text.Append(CultureInfo.InvariantCulture, $"<tr><td class=\"n\"><a href=\"{report}\">{Encode(row.Student)}</a></td><td class=\"n\">{Encode(row.Programs)}</td>");
            foreach (string name in scenarios)
            {
                GradebookCell? cell = row.Cells.FirstOrDefault(candidate => candidate.Scenario == name);
                if (cell is null)
                {
                    text.Append("<td></td>");
                    continue;
                }

                string shown = cell.Outcome switch { "PASS" => Number(cell.Points), "SKIP" => "skip", _ => "0" };
                string log = $"{Uri.EscapeDataString(row.Slug)}/logs/{Uri.EscapeDataString(ScenarioLog.FileName(name))}";
                string title = cell.Reason is null ? cell.Outcome : $"{cell.Outcome}: {cell.Reason}";
                text.Append(CultureInfo.InvariantCulture, $"<td class=\"{cell.Outcome}\" title=\"{Encode(title)}\"><a href=\"{log}\">{shown}</a></td>");
            }

            text.AppendLine(CultureInfo.InvariantCulture, $"<td>{row.Earned} / {row.Possible}</td><td class=\"n\">{Encode(row.Note ?? "")}</td></tr>");
        }

        text.AppendLine("</tbody></table></body></html>");
        return text.ToString();
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Encode(string text) => WebUtility.HtmlEncode(text);

    // RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled.
    private static string CsvField(string text) =>
        text.IndexOfAny([',', '"', '\n', '\r']) < 0 ? text : "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private sealed record SavedGradebook(IReadOnlyList<string> Scenarios, IReadOnlyList<GradebookRow> Rows);
}
