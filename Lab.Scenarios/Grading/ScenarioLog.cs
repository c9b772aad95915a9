using System.Globalization;
using System.Text;

namespace Lab.Scenarios.Grading;

/// <summary>
/// One scenario's log for a student's gradebook: its verdict and narration, then every line each
/// program printed, in full (the narration shortens them and hides some under load). The gradebook
/// links each cell to this file.
/// </summary>
/// <example>
/// <code>
/// string path = ScenarioLog.Write("gradebook/alice/logs", result, processes.Processes);   // gradebook/alice/logs/happy-path.log
/// </code>
/// </example>
internal static class ScenarioLog
{
    /// <summary>The file name of a scenario's log: <c>happy-path.log</c>.</summary>
    public static string FileName(string scenario) => scenario + ".log";

    /// <summary>Writes the log into <paramref name="directory"/> (created if needed); returns its path.</summary>
    public static string Write(string directory, ScenarioResult result, IReadOnlyList<ManagedProcess> processes)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{result.Name}: {result.Verdict}");
        text.AppendLine(CultureInfo.InvariantCulture, $"requirement: {result.Requirement}");
        text.AppendLine(CultureInfo.InvariantCulture, $"time: {result.Duration.TotalSeconds:0.0} s").AppendLine();
        text.AppendLine("narration:");
        foreach (string line in result.Narration)
        {
            text.AppendLine(line);
        }

        foreach (ManagedProcess process in processes)
        {
            IReadOnlyList<OutputLine> lines = process.Lines;
            text.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"output of {process.Name} (pid {process.Id}, {lines.Count} lines; ! marks standard error):");
            foreach (OutputLine line in lines)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"{line.Time:HH:mm:ss.fff} {(line.IsError ? '!' : ' ')} {line.Text}");
            }
        }

        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, FileName(result.Name));
        File.WriteAllText(path, text.ToString());
        return path;
    }
}
