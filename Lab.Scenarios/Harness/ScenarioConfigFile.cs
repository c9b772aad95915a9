using System.Text;

namespace Lab.Scenarios.Harness;

/// <summary>
/// The <c>config.ini</c> one scenario hands to every program it starts (<c>--config PATH</c>):
/// the scenario timings plus what the scenario learns or needs — the registry's actual port once
/// it is listening, a shorter method timeout for the timeout scenario.
/// </summary>
/// <remarks>
/// Programs read the file when they start, so a value set after a program started reaches only
/// the programs started afterwards — which is exactly how the registry port flows: registry first,
/// then <see cref="Set"/> its port, then the servers and clients.
/// <example>
/// <code>
/// var config = new ScenarioConfigFile(Path.Combine(workDirectory, "config.ini"), timings);
/// config.Set("registry:port", "40123");   // rewrites the file
/// </code>
/// </example>
/// </remarks>
internal sealed class ScenarioConfigFile
{
    private readonly SortedDictionary<string, string> _values;

    public ScenarioConfigFile(string path, ScenarioTimings timings)
    {
        Path = path;
        _values = new SortedDictionary<string, string>(timings.Values.ToDictionary(), StringComparer.OrdinalIgnoreCase);
        Write();
    }

    public string Path { get; }

    /// <summary>The current value of <c>section:key</c>, or null.</summary>
    public string? Get(string key) => _values.GetValueOrDefault(key);

    /// <summary>Sets <c>section:key</c> and rewrites the file.</summary>
    public void Set(string key, string value)
    {
        _values[key] = value;
        Write();
    }

    private void Write()
    {
        var text = new StringBuilder();
        text.AppendLine("; Written by the scenario runner: short timings so faults play out in seconds.");
        foreach (IGrouping<string, KeyValuePair<string, string>> section in _values.GroupBy(pair => pair.Key.Split(':')[0]))
        {
            text.AppendLine().AppendLine($"[{section.Key}]");
            foreach (KeyValuePair<string, string> pair in section)
            {
                text.AppendLine($"{pair.Key[(section.Key.Length + 1)..]} = {pair.Value}");
            }
        }

        // Write-then-rename: a program starting at this instant reads the old file or the new one, never half of one.
        string temporary = Path + ".tmp";
        File.WriteAllText(temporary, text.ToString());
        File.Move(temporary, Path, overwrite: true);
    }
}
