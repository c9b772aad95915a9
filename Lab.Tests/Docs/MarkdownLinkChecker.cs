using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Lab.Tests.Docs;

/// <summary>One reference in a Markdown file that points at nothing, and why.</summary>
internal sealed record BrokenLink(string File, int Line, string Reference, string Problem)
{
    public override string ToString() => $"{File}:{Line}: {Reference} -> {Problem}";
}

/// <summary>
/// Checks that the references in the repository's Markdown files point at something real, so the
/// tutorial cannot rot silently when a file is renamed or a heading reworded.
/// </summary>
/// <remarks>
/// <para>
/// Three kinds of reference are checked: a relative link <c>[text](path)</c> or <c>[text](path#anchor)</c>
/// (resolved from the Markdown file's folder; the anchor must be a heading of the target when it is a
/// Markdown file), a same-file anchor <c>[text](#anchor)</c>, and a code span naming a repository file such
/// as <c>`Lab.Server/TcpServer.cs`</c> (resolved from the repository root). Links with a scheme
/// (<c>https:</c>, <c>mailto:</c>) and everything inside fenced code blocks are left alone: code blocks
/// show commands and output, not references.
/// </para>
/// <para>
/// Anchors follow the code hosts' rule (GitHub, GitLab): the heading text in lower case, with
/// punctuation removed and each space turned into <c>-</c>; a repeated heading gets <c>-1</c>, <c>-2</c>.
/// An explicit <c>&lt;a id="req-3"&gt;&lt;/a&gt;</c> is an anchor too (docs/lab-requirements.md numbers its items so).
/// Paths must match the file's case exactly: a link that works on a case-insensitive disk would
/// still be broken on the code host.
/// </para>
/// <example>
/// <code>
/// var checker = new MarkdownLinkChecker(repositoryRoot);
/// IReadOnlyList&lt;BrokenLink&gt; broken = checker.CheckFile("docs/03-server.md");
/// // docs/03-server.md:12: [TcpServer](../Lab.Server/TcpServr.cs) -> no such file or folder: Lab.Server/TcpServr.cs
/// </code>
/// </example>
/// </remarks>
internal sealed partial class MarkdownLinkChecker(string repositoryRoot)
{
    private readonly string _root = Path.GetFullPath(repositoryRoot);
    private readonly Dictionary<string, IReadOnlySet<string>> _anchorsByFile = new(StringComparer.Ordinal);

    /// <summary>How many references the checker has looked at, broken or not.</summary>
    public int ReferencesChecked { get; private set; }

    /// <summary>Checks one Markdown file of the repository, given relative to the root (<c>docs/README.md</c>).</summary>
    public IReadOnlyList<BrokenLink> CheckFile(string relativePath) =>
        Check(relativePath, File.ReadAllText(Path.Combine(_root, relativePath)));

    /// <summary>Checks <paramref name="markdown"/> as if it were the file <paramref name="relativePath"/>.</summary>
    public IReadOnlyList<BrokenLink> Check(string relativePath, string markdown)
    {
        string fileName = relativePath.Replace('\\', '/');
        string folder = Path.GetDirectoryName(Path.Combine(_root, relativePath))!;
        var broken = new List<BrokenLink>();
        string[] lines = markdown.ReplaceLineEndings("\n").Split('\n');
        bool inFence = false;
        for (int index = 0; index < lines.Length; index++)
        {
            string line = lines[index];
            if (FenceLine().IsMatch(line))
            {
                inFence = !inFence;
                continue;
            }

            if (inFence)
            {
                continue;
            }

            int lineNumber = index + 1;
            foreach (Match span in CodeSpan().Matches(line))
            {
                string content = span.Groups["content"].Value.Trim();
                if (LooksLikeRepositoryPath(content))
                {
                    ReferencesChecked++;
                    if (ProblemWithPath(_root, content) is { } problem)
                    {
                        broken.Add(new BrokenLink(fileName, lineNumber, $"`{content}`", problem));
                    }
                }
            }

            // Code spans are blanked out first: a link shown as code (`[x](y)`) is an example, not a link.
            string withoutCode = CodeSpan().Replace(line, match => new string(' ', match.Length));
            foreach (Match link in InlineLink().Matches(withoutCode))
            {
                string target = link.Groups["target"].Value;
                if (HasScheme().IsMatch(target))
                {
                    continue;
                }

                ReferencesChecked++;
                if (ProblemWithLink(fileName, folder, markdown, target) is { } problem)
                {
                    broken.Add(new BrokenLink(fileName, lineNumber, line.Substring(link.Index, link.Length), problem));
                }
            }
        }

        return broken;
    }

    /// <summary>The anchor a code host gives a heading: <c>"2. Why JSON?"</c> becomes <c>2-why-json</c>.</summary>
    public static string Slug(string heading)
    {
        // The anchor is made from the rendered text: a link shows its text, a code span its content.
        string text = MarkdownLinkText().Replace(heading.Trim(), "${text}").Replace("`", "", StringComparison.Ordinal);
        var slug = new StringBuilder(text.Length);
        foreach (char c in text.ToLowerInvariant())
        {
            UnicodeCategory category = char.GetUnicodeCategory(c);
            if (c == ' ')
            {
                slug.Append('-');
            }
            else if (c == '-' || char.IsLetterOrDigit(c) || category is UnicodeCategory.NonSpacingMark or UnicodeCategory.ConnectorPunctuation)
            {
                slug.Append(c);
            }
        }

        return slug.ToString();
    }

    /// <summary>
    /// Every anchor <paramref name="markdown"/> defines: its headings' (repeated headings numbered) and its
    /// explicit <c>&lt;a id="..."&gt;</c> anchors.
    /// </summary>
    public static IReadOnlySet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        bool inFence = false;
        foreach (string line in markdown.ReplaceLineEndings("\n").Split('\n'))
        {
            if (FenceLine().IsMatch(line))
            {
                inFence = !inFence;
                continue;
            }

            if (inFence)
            {
                continue;
            }

            if (Heading().Match(line) is { Success: true } heading)
            {
                string slug = Slug(heading.Groups["text"].Value);
                int count = seen.TryGetValue(slug, out int previous) ? previous + 1 : 0;
                seen[slug] = count;
                anchors.Add(count == 0 ? slug : $"{slug}-{count}");
            }

            // An explicit anchor, <a id="req-3-2"></a>, names a spot that is not a heading (a numbered
            // requirement); one shown as code is an example, not an anchor.
            foreach (Match explicitAnchor in HtmlAnchor().Matches(CodeSpan().Replace(line, "")))
            {
                anchors.Add(explicitAnchor.Groups["id"].Value);
            }
        }

        return anchors;
    }

    // A code span is taken as a repository path when it starts with one of the repository's top-level
    // folders, or names a root file by an extension only root files have. Anything else in backticks
    // (a type name, a setting, a command) is left alone.
    private static bool LooksLikeRepositoryPath(string content) =>
        RepositoryFolderPath().IsMatch(content) || RootFileName().IsMatch(content);

    private string? ProblemWithLink(string fileName, string folder, string markdown, string target)
    {
        int hash = target.IndexOf('#', StringComparison.Ordinal);
        string path = Uri.UnescapeDataString(hash < 0 ? target : target[..hash]);
        string? anchor = hash < 0 ? null : target[(hash + 1)..];
        if (path.Length == 0)
        {
            return anchor is null || Anchors(markdown).Contains(anchor) ? null : $"no heading with anchor #{anchor} in {fileName}";
        }

        string full = Path.GetFullPath(Path.Combine(folder, path));
        string relative = Path.GetRelativePath(_root, full).Replace('\\', '/');
        if (relative.StartsWith("../", StringComparison.Ordinal) || Path.IsPathRooted(relative))
        {
            return $"points outside the repository: {path}";
        }

        if (ProblemWithPath(_root, relative) is { } problem)
        {
            return problem;
        }

        if (anchor is not null && full.EndsWith(".md", StringComparison.OrdinalIgnoreCase) && !AnchorsOf(full).Contains(anchor))
        {
            return $"no heading with anchor #{anchor} in {relative}";
        }

        return null;
    }

    private IReadOnlySet<string> AnchorsOf(string fullPath)
    {
        if (!_anchorsByFile.TryGetValue(fullPath, out IReadOnlySet<string>? anchors))
        {
            anchors = Anchors(File.ReadAllText(fullPath));
            _anchorsByFile[fullPath] = anchors;
        }

        return anchors;
    }

    // Walks the path one segment at a time, comparing names exactly, so "readme.md" does not pass for
    // "README.md" on a case-insensitive disk.
    private static string? ProblemWithPath(string root, string relativePath)
    {
        string current = root;
        foreach (string segment in relativePath.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (segment == ".")
            {
                continue;
            }

            if (!Directory.Exists(current)
                || !Directory.EnumerateFileSystemEntries(current).Any(entry => Path.GetFileName(entry) == segment))
            {
                return $"no such file or folder: {relativePath}";
            }

            current = Path.Combine(current, segment);
        }

        return null;
    }

    [GeneratedRegex(@"^\s{0,3}(```|~~~)")]
    private static partial Regex FenceLine();

    [GeneratedRegex(@"^\s{0,3}#{1,6}\s+(?<text>.*?)\s*#*\s*$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"<a\s+(?:id|name)=""(?<id>[^""]+)""")]
    private static partial Regex HtmlAnchor();

    [GeneratedRegex(@"(?<ticks>`+)(?<content>.+?)\k<ticks>")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"!?\[(?<text>[^\]]*)\]\((?<target>[^)\s]+)(?:\s+""[^""]*"")?\)")]
    private static partial Regex InlineLink();

    [GeneratedRegex(@"\[(?<text>[^\]]*)\]\([^)]*\)")]
    private static partial Regex MarkdownLinkText();

    [GeneratedRegex(@"^[a-zA-Z][a-zA-Z0-9+.-]*:")]
    private static partial Regex HasScheme();

    [GeneratedRegex(@"^(Lab\.[A-Za-z]+|docs|\.ci)/[A-Za-z0-9_./-]*$")]
    private static partial Regex RepositoryFolderPath();

    [GeneratedRegex(@"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.(sln|ps1|props|ini)$")]
    private static partial Regex RootFileName();
}
