using System.Text.RegularExpressions;
using Lab.Scenarios;

namespace Lab.Tests.Docs;

/// <summary>
/// The docs name scenarios in code spans (<c>`graceful-stop`</c>) so a teaching assistant can run them.
/// These tests keep those names in step with <see cref="ScenarioCatalog"/>: a renamed or removed
/// scenario breaks the docs here, and a new scenario must be added to the scenarios chapter's table.
/// </summary>
[TestFixture]
public sealed partial class DocumentationScenarioNamesTests
{
    private const string ScenariosChapter = "docs/08-scenarios.md";

    [Test]
    public void Every_kebab_case_name_in_the_docs_is_a_scenario_of_the_catalog()
    {
        string root = DocumentationFiles.RepositoryRoot();
        HashSet<string> known = [.. ScenarioCatalog.All.Select(scenario => scenario.Name)];

        List<string> unknown = [];
        int named = 0;
        foreach (string file in DocumentationFiles.MarkdownFiles(root))
        {
            string[] lines = File.ReadAllLines(Path.Combine(root, file));
            for (int index = 0; index < lines.Length; index++)
            {
                foreach (Match name in KebabCaseCodeSpan().Matches(lines[index]))
                {
                    named++;
                    if (!known.Contains(name.Groups["name"].Value))
                    {
                        unknown.Add($"{file}:{index + 1}: `{name.Groups["name"].Value}` is not a scenario (see --list)");
                    }
                }
            }
        }

        named.ShouldBeGreaterThan(ScenarioCatalog.All.Count);
        unknown.Count.ShouldBe(0, string.Join(Environment.NewLine, unknown));
    }

    [Test]
    public void Every_scenario_of_the_catalog_has_a_row_in_the_scenarios_chapter()
    {
        string chapter = File.ReadAllText(Path.Combine(DocumentationFiles.RepositoryRoot(), ScenariosChapter));

        string[] missing = [.. ScenarioCatalog.All
            .Select(scenario => scenario.Name)
            .Where(name => !chapter.Contains($"| `{name}` |", StringComparison.Ordinal))];

        missing.ShouldBeEmpty($"scenarios without a row in {ScenariosChapter}");
    }

    // Scenario names are lower-case words joined by hyphens; command-line flags (--list) start with a hyphen.
    [GeneratedRegex(@"`(?<name>[a-z0-9]+(?:-[a-z0-9]+)+)`")]
    private static partial Regex KebabCaseCodeSpan();
}
