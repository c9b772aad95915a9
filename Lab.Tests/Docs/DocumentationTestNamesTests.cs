using System.Text.RegularExpressions;

namespace Lab.Tests.Docs;

/// <summary>
/// The docs cite tests by name (<c>`Stop_unregisters_at_once_and_no_heartbeat_follows`</c>) as the proof
/// of a claim. This test keeps those names in step with the test code: a renamed or deleted test breaks
/// the docs here, not silently.
/// </summary>
[TestFixture]
public sealed partial class DocumentationTestNamesTests
{
    [Test]
    public void Every_test_name_cited_in_the_docs_is_a_method_of_the_tests()
    {
        string root = DocumentationFiles.RepositoryRoot();
        string tests = string.Join("\n", Directory.EnumerateFiles(Path.Combine(root, "Lab.Tests"), "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                           && !path.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(File.ReadAllText));

        List<string> unknown = [];
        int cited = 0;
        foreach (string file in DocumentationFiles.MarkdownFiles(root))
        {
            string[] lines = File.ReadAllLines(Path.Combine(root, file));
            bool inFence = false;
            for (int index = 0; index < lines.Length; index++)
            {
                if (lines[index].TrimStart().StartsWith("```", StringComparison.Ordinal))
                {
                    inFence = !inFence;
                }

                if (inFence)
                {
                    continue;
                }

                foreach (Match name in TestNameCodeSpan().Matches(lines[index]))
                {
                    cited++;
                    if (!Regex.IsMatch(tests, $@"\b{name.Groups["name"].Value}\s*\("))
                    {
                        unknown.Add($"{file}:{index + 1}: `{name.Groups["name"].Value}` is not a test method");
                    }
                }
            }
        }

        cited.ShouldBeGreaterThan(50);
        unknown.Count.ShouldBe(0, string.Join(Environment.NewLine, unknown));
    }

    // Test names are sentences joined by underscores and start with a capital: Stop_lets_an_in_flight_call_finish.
    [GeneratedRegex(@"`(?<name>[A-Z][A-Za-z0-9]*(?:_[A-Za-z0-9]+){2,})`")]
    private static partial Regex TestNameCodeSpan();
}
