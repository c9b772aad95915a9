namespace Lab.Scenarios.Harness;

/// <summary>One <c>name = value</c> line of a small settings file, with <c>file:line</c> for messages.</summary>
/// <param name="Where">The file and line number: <c>rubric.ini:7</c>.</param>
/// <param name="Text">The line as written (trimmed).</param>
/// <param name="Name">What stands before the first <c>=</c>, or null when the line has none.</param>
/// <param name="Value">What follows it, trimmed; empty when there is none.</param>
internal sealed record SettingLine(string Where, string Text, string? Name, string Value);

/// <summary>
/// Reads the small <c>name = value</c> files the runner takes from a teaching assistant (a rubric,
/// a submission's <c>lab.ini</c>): blank lines, <c>;</c> and <c>#</c> comments and <c>[section]</c>
/// headers are skipped, and a value is kept exactly as written — an INI library would strip the
/// quotes around a value, and a command's own quotes must reach the shell.
/// </summary>
/// <example>
/// <code>
/// foreach (SettingLine line in SettingLines.Read("rubric.ini"))
///     if (line.Name is null) throw new FormatException($"{line.Where}: expected name = value");
/// </code>
/// </example>
internal static class SettingLines
{
    public static IEnumerable<SettingLine> Read(string path)
    {
        string[] lines = File.ReadAllLines(path);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line[0] is ';' or '#' or '[')
            {
                continue;
            }

            string[] parts = line.Split('=', 2, StringSplitOptions.TrimEntries);
            yield return new SettingLine($"{path}:{i + 1}", line, parts.Length == 2 ? parts[0] : null, parts.Length == 2 ? parts[1] : "");
        }
    }
}
