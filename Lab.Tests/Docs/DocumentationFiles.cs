namespace Lab.Tests.Docs;

/// <summary>
/// Where the documentation is: the repository root (found from the test's own build folder) and
/// the Markdown files the documentation tests read: the root README, CONTRIBUTING.md and every page of docs/.
/// </summary>
/// <example>
/// <code>
/// string root = DocumentationFiles.RepositoryRoot();
/// foreach (string file in DocumentationFiles.MarkdownFiles(root)) { /* "README.md", "docs/01-overview.md"... */ }
/// </code>
/// </example>
internal static class DocumentationFiles
{
    /// <summary>The folder holding RpcLab.sln, above the test assembly.</summary>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "RpcLab.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException("RpcLab.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The root README, CONTRIBUTING.md, the scenario runner's README and docs/*.md, relative to the root with '/' separators, in a stable order.</summary>
    public static IReadOnlyList<string> MarkdownFiles(string root) =>
    [
        "README.md",
        "CONTRIBUTING.md",
        "Lab.Scenarios/README.md",
        .. Directory.GetFiles(Path.Combine(root, "docs"), "*.md")
            .Select(path => Path.GetRelativePath(root, path).Replace('\\', '/'))
            .Order(StringComparer.Ordinal),
    ];
}
