using System.Text.RegularExpressions;

namespace Lab.Tests.Docs;

/// <summary>
/// docs/lab-requirements.md states the lab's requirements in sections 1 to 11, with an anchor per
/// section and per numbered item. Code comments, scenario narration and the docs cite them as
/// "lab requirements §5" or "§3.2"; these tests keep every such citation pointing at an anchor that
/// exists, so a student who follows one always lands on the requirement.
/// </summary>
[TestFixture]
public sealed partial class LabRequirementsTests
{
    private const string RequirementsFile = "docs/lab-requirements.md";

    [Test]
    public void The_requirements_page_has_the_lab_sections_1_to_11_each_with_its_anchor()
    {
        string root = DocumentationFiles.RepositoryRoot();
        IReadOnlySet<string> anchors = MarkdownLinkChecker.Anchors(File.ReadAllText(Path.Combine(root, RequirementsFile)));

        string[] missing = [.. Enumerable.Range(1, 11).Select(section => $"req-{section}").Where(anchor => !anchors.Contains(anchor))];

        missing.ShouldBeEmpty($"section anchors missing from {RequirementsFile}");
        anchors.Count(anchor => anchor.StartsWith("req-", StringComparison.Ordinal)).ShouldBeGreaterThan(60);
    }

    [Test]
    public void Every_lab_requirements_citation_in_code_and_docs_names_an_existing_section_or_item()
    {
        string root = DocumentationFiles.RepositoryRoot();
        IReadOnlySet<string> anchors = MarkdownLinkChecker.Anchors(File.ReadAllText(Path.Combine(root, RequirementsFile)));

        List<string> unknown = [];
        int cited = 0;
        foreach (string file in SourceAndDocumentationFiles(root))
        {
            string[] lines = File.ReadAllLines(Path.Combine(root, file));
            for (int index = 0; index < lines.Length; index++)
            {
                foreach (string anchor in CitedAnchors(lines[index]))
                {
                    cited++;
                    if (!anchors.Contains(anchor))
                    {
                        unknown.Add($"{file}:{index + 1}: cites #{anchor}, which {RequirementsFile} does not define");
                    }
                }
            }
        }

        cited.ShouldBeGreaterThan(10);
        unknown.Count.ShouldBe(0, string.Join(Environment.NewLine, unknown));
    }

    [Test]
    public void Code_and_docs_cite_documents_in_the_repository_never_one_outside_it()
    {
        string root = DocumentationFiles.RepositoryRoot();

        string[] outside = [.. SourceAndDocumentationFiles(root)
            .SelectMany(file => File.ReadAllLines(Path.Combine(root, file)).Select((line, index) => (file, line, index)))
            .Where(entry => OutsideCitation().IsMatch(entry.line))
            .Select(entry => $"{entry.file}:{entry.index + 1}: {entry.line.Trim()}")];

        outside.ShouldBeEmpty("cite docs/lab-requirements.md (\"lab requirements §N\") or CONTRIBUTING.md (\"CONTRIBUTING.md rule N\") instead");
    }

    [TestCase("requirement:  lab requirements §1/§5: graceful stop", new[] { "req-1", "req-5" })]
    [TestCase("// the server registers an address clients can reach (lab requirements §5.5).", new[] { "req-5-5" })]
    [TestCase("see [lab requirements §3](lab-requirements.md#req-3) and §3.2", new[] { "req-3", "req-3-2" })]
    [TestCase("lab requirements §3, §11: framing", new[] { "req-3", "req-11" })]
    [TestCase("[Lab requirements §1.13](lab-requirements.md#req-1-13): the registry defines", new[] { "req-1-13" })]
    [TestCase("no citation here: §3 alone is not one", new string[0])]
    public void A_citation_names_each_section_or_item_it_lists(string line, string[] anchors) =>
        CitedAnchors(line).ShouldBe(anchors);

    // "lab requirements §1/§5" cites two sections, "§3.2" an item; a link's own target is not a second citation.
    private static IEnumerable<string> CitedAnchors(string line) =>
        Citation().Matches(line)
            .SelectMany(citation => Section().Matches(citation.Value))
            .Select(section => section.Groups["item"].Success
                ? $"req-{section.Groups["section"].Value}-{section.Groups["item"].Value}"
                : $"req-{section.Groups["section"].Value}")
            .Distinct();

    // The code (without build output) and the Markdown pages, relative to the root with '/' separators.
    private static IEnumerable<string> SourceAndDocumentationFiles(string root) =>
        Directory.EnumerateFiles(root, "*.*", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(root, path).Replace('\\', '/'))
            .Where(path => path.EndsWith(".cs", StringComparison.Ordinal) || path.EndsWith(".md", StringComparison.Ordinal) || path.EndsWith(".ps1", StringComparison.Ordinal))
            .Where(path => !path.Split('/').Any(segment => segment is "bin" or "obj" or ".git" or "TestResults" or "coverage-report" or "scenario-reports"))
            .Order(StringComparer.Ordinal);

    [GeneratedRegex(@"lab requirements\s+§\d+(?:\.\d+)?(?:(?:\]\([^)]*\))?(?:\s*(?:/|,|and)\s*)§\d+(?:\.\d+)?)*", RegexOptions.IgnoreCase)]
    private static partial Regex Citation();

    // The lab's original requirements and style notes, which are not in the repository, cited by name: "SPEC" or
    // "STYLE" followed by a section sign, the word rule, or the Markdown extension.
    [GeneratedRegex(@"(?:SPEC|STYLE)(?:\s+§|\s+rule|\.md)")]
    private static partial Regex OutsideCitation();

    [GeneratedRegex(@"§(?<section>\d+)(?:\.(?<item>\d+))?")]
    private static partial Regex Section();
}
