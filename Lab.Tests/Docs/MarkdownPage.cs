using Markdig;
using Markdig.Syntax;

namespace Lab.Tests.Docs;

/// <summary>One fenced code block of a page: its info string, where its content is, and the HTML comment just before it, if any.</summary>
/// <param name="Info">The language after the opening fence (<c>bash</c>, <c>text</c>...), empty when none.</param>
/// <param name="FenceLine">The 0-based line of the opening fence.</param>
/// <param name="Indent">How far the fence is indented (a block inside a list item).</param>
/// <param name="Content">The lines between the fences, without the indent.</param>
/// <param name="Comment">The text of an HTML comment that directly precedes the block, without <c>&lt;!--</c> and <c>--&gt;</c>.</param>
internal sealed record CodeFence(string Info, int FenceLine, int Indent, IReadOnlyList<string> Content, string? Comment)
{
    /// <summary>The 1-based line number of the opening fence, as an editor shows it.</summary>
    public int LineNumber => FenceLine + 1;
}

/// <summary>
/// A Markdown page of the repository parsed with Markdig (the CommonMark parser): its fenced code
/// blocks, each with the HTML comment before it, and a way to replace a block's content.
/// </summary>
/// <example>
/// <code>
/// MarkdownPage page = MarkdownPage.Load(root, "docs/03-server.md");
/// foreach (CodeFence fence in page.Fences.Where(fence => fence.Info == "text")) { /* ... */ }
/// string updated = page.WithContents(new Dictionary&lt;int, IReadOnlyList&lt;string&gt;&gt; { [fence.FenceLine] = newLines });
/// </code>
/// </example>
internal sealed class MarkdownPage
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().UsePreciseSourceLocation().Build();

    private MarkdownPage(string relativePath, string text)
    {
        RelativePath = relativePath;
        Text = text.ReplaceLineEndings("\n");
        Lines = Text.Split('\n');
        Document = Markdown.Parse(Text, Pipeline);
        Fences = [.. Document.Descendants<FencedCodeBlock>().Select(ToFence)];
    }

    /// <summary>The page's path relative to the repository root, with '/' separators.</summary>
    public string RelativePath { get; }

    public string Text { get; }

    public IReadOnlyList<string> Lines { get; }

    public MarkdownDocument Document { get; }

    public IReadOnlyList<CodeFence> Fences { get; }

    public static MarkdownPage Load(string root, string relativePath) =>
        new(relativePath, File.ReadAllText(Path.Combine(root, relativePath)));

    public static MarkdownPage Parse(string relativePath, string text) => new(relativePath, text);

    /// <summary>The page's text with the content of some blocks (keyed by their fence line) replaced.</summary>
    public string WithContents(IReadOnlyDictionary<int, IReadOnlyList<string>> contentByFenceLine)
    {
        var lines = new List<string>();
        int index = 0;
        foreach (CodeFence fence in Fences.Where(fence => contentByFenceLine.ContainsKey(fence.FenceLine)))
        {
            lines.AddRange(Lines.Skip(index).Take(fence.FenceLine + 1 - index));
            string indent = new(' ', fence.Indent);
            lines.AddRange(contentByFenceLine[fence.FenceLine].Select(line => line.Length == 0 ? line : indent + line));
            index = fence.FenceLine + 1 + fence.Content.Count;
        }

        lines.AddRange(Lines.Skip(index));
        return string.Join('\n', lines);
    }

    private CodeFence ToFence(FencedCodeBlock block)
    {
        string[] content = [.. Enumerable.Range(0, block.Lines.Count).Select(index => block.Lines.Lines[index].Slice.ToString())];
        return new CodeFence(block.Info ?? "", block.Line, block.Column, content, PrecedingComment(block));
    }

    private static string? PrecedingComment(Block block)
    {
        ContainerBlock? parent = block.Parent;
        int index = parent?.IndexOf(block) ?? -1;
        if (parent is null || index <= 0 || parent[index - 1] is not HtmlBlock { Type: HtmlBlockType.Comment } html)
        {
            return null;
        }

        string text = html.Lines.ToString().Trim();
        return text.StartsWith("<!--", StringComparison.Ordinal) && text.EndsWith("-->", StringComparison.Ordinal)
            ? text[4..^3].Trim()
            : null;
    }
}
