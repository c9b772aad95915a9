namespace Lab.Tests.Docs;

/// <summary>
/// Every block of program output in the pages, sorted by how it is kept honest: checked by a
/// command (<see cref="Outputs"/>), or left out with a stated reason (<see cref="NotChecked"/>);
/// plus what is wrong with the annotations themselves (<see cref="Problems"/>).
/// </summary>
/// <remarks>
/// A block of program output is a <c>```text</c> block. One that is not output (a drawing, a type
/// tree) says so with <c>&lt;!-- figure: what it shows --&gt;</c>. A <c>run:</c> command must appear,
/// word for word, in a code block of the page above the output, so the annotation cannot drift from
/// what the reader is told to type.
/// </remarks>
internal sealed class DocumentationInventory
{
    private DocumentationInventory(List<DocumentedOutput> outputs, List<(string, string)> notChecked, List<string> problems, int outputBlockCount)
    {
        Outputs = outputs;
        NotChecked = notChecked;
        Problems = problems;
        OutputBlockCount = outputBlockCount;
    }

    public IReadOnlyList<DocumentedOutput> Outputs { get; }

    /// <summary>Blocks of output no command checks, with the reason the page gives.</summary>
    public IReadOnlyList<(string Location, string Reason)> NotChecked { get; }

    /// <summary>Unannotated text blocks, annotations that do not parse, and commands the page does not show.</summary>
    public IReadOnlyList<string> Problems { get; }

    /// <summary>Every block of program output (the checked ones and the ones left out).</summary>
    public int OutputBlockCount { get; }

    /// <summary>The pages the checks read: the root README, CONTRIBUTING.md, the scenario runner's README and docs/*.md.</summary>
    public static IReadOnlyList<string> PagePaths(string root) => DocumentationFiles.MarkdownFiles(root);

    public static DocumentationInventory Read(string root)
    {
        var outputs = new List<DocumentedOutput>();
        var notChecked = new List<(string, string)>();
        var problems = new List<string>();
        int count = 0;
        foreach (string path in PagePaths(root))
        {
            MarkdownPage page = MarkdownPage.Load(root, path);
            var shownCommands = new List<string>();
            foreach (CodeFence fence in page.Fences)
            {
                string location = $"{path}:{fence.LineNumber}";
                if (fence.Info != "text")
                {
                    // A command continued over several lines (a trailing backslash) counts as one line.
                    shownCommands.AddRange(string.Join('\n', fence.Content).Replace(" \\\n", " ", StringComparison.Ordinal).Split('\n').Select(line => line.Trim()));
                    continue;
                }

                string comment = fence.Comment ?? "";
                if (comment.StartsWith("figure", StringComparison.Ordinal))
                {
                    continue;
                }

                count++;
                if (comment.StartsWith("output not checked:", StringComparison.Ordinal))
                {
                    notChecked.Add((location, comment["output not checked:".Length..].Trim()));
                    continue;
                }

                DocumentedOutput? output;
                try
                {
                    output = DocumentedOutput.Read(page, fence);
                }
                catch (FormatException ex)
                {
                    problems.Add(ex.Message);
                    continue;
                }

                if (output is null)
                {
                    problems.Add($"{location}: a text block without an annotation (<!-- output ... -->, <!-- output not checked: why -->, <!-- figure: what -->)");
                    continue;
                }

                foreach (string command in output.Run.Concat(output.PowerShell).Where(command => !shownCommands.Any(shown => Shows(shown, command))))
                {
                    problems.Add($"{location}: the annotation runs `{command}`, which no code block above it on the page shows");
                }

                outputs.Add(output);
            }
        }

        return new DocumentationInventory(outputs, notChecked, problems, count);
    }

    // A shown line may carry a trailing comment ("dotnet run ... -- -p 9999   # the registry center").
    private static bool Shows(string shown, string command) =>
        shown == command || (shown.StartsWith(command, StringComparison.Ordinal) && shown[command.Length..].TrimStart().StartsWith('#'));
}
