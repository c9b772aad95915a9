namespace Lab.Tests.Docs;

/// <summary>
/// The Python examples of the tutorial are files in docs/examples/, so one command runs them from
/// bash and PowerShell alike (<c>python3 docs/examples/add.py</c>), and the pages show their code. This
/// test keeps the two in step: every example file appears, whole, in a <c>```python</c> block of a page.
/// </summary>
[TestFixture]
public sealed class DocumentationExamplesTests
{
    [Test]
    public void Every_example_file_is_shown_whole_in_a_python_block_of_the_docs()
    {
        string root = DocumentationFiles.RepositoryRoot();
        string pages = string.Join("\n", DocumentationFiles.MarkdownFiles(root)
            .Select(file => File.ReadAllText(Path.Combine(root, file)).ReplaceLineEndings("\n")));
        string[] examples = Directory.GetFiles(Path.Combine(root, "docs", "examples"), "*.py");

        string[] notShown = [.. examples
            .Where(path => !pages.Contains("```python\n" + File.ReadAllText(path).ReplaceLineEndings("\n") + "```", StringComparison.Ordinal))
            .Select(path => Path.GetRelativePath(root, path).Replace('\\', '/'))];

        examples.Length.ShouldBeGreaterThan(5);
        notShown.ShouldBeEmpty("example files whose code differs from what the docs show (or that no page shows)");
    }
}
