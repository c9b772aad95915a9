using System.Globalization;
using System.Text.RegularExpressions;

namespace Lab.Tests.Docs;

/// <summary>
/// docs/README.md opens with the short path: the chapters a student reads to do the lab, each with
/// its reading time. The times are counts like any other in the pages, so this test recounts them:
/// the words of each chapter (code, output and the sections marked <c>&gt; **Optional.**</c> left out)
/// at 200 words a minute, and the total.
/// </summary>
[TestFixture]
public sealed partial class DocumentationShortPathTests
{
    private const int WordsPerMinute = 200;

    [Test]
    public void Each_reading_time_of_the_short_path_is_its_chapter_recounted()
    {
        string root = DocumentationFiles.RepositoryRoot();
        string index = File.ReadAllText(Path.Combine(root, "docs", "README.md")).ReplaceLineEndings("\n");
        MatchCollection rows = Row().Matches(index);
        List<string> wrong = [];
        int statedTotal = 0;
        foreach (Match row in rows)
        {
            string target = row.Groups["target"].Value;
            int stated = int.Parse(row.Groups["minutes"].Value, CultureInfo.InvariantCulture);
            statedTotal += stated;
            string text = target.StartsWith('#')
                ? Section(index, target[1..])
                : File.ReadAllText(Path.Combine(root, "docs", target)).ReplaceLineEndings("\n");
            double minutes = (double)CoreWords(text) / WordsPerMinute;
            if (Math.Abs(stated - minutes) > Math.Max(2, 0.3 * minutes))
            {
                wrong.Add($"{target}: the short path says {stated} min, the chapter reads in about {minutes:0} min");
            }
        }

        rows.Count.ShouldBeGreaterThan(8, "the short path's table was found");
        wrong.ShouldBeEmpty();
        Total().Match(index).Groups["minutes"].Value.ShouldBe(statedTotal.ToString(CultureInfo.InvariantCulture), "the total is the sum of the rows");
    }

    [Test]
    public void Code_output_comments_and_optional_sections_are_not_counted()
    {
        const string chapter = """
            # 3. The server

            One two three.

            ```text
            four five six
            ```

            <!-- seven eight -->
            ## Limits

            > **Optional.** Nine ten.

            Eleven twelve.

            ## Back to the core

            Thirteen.
            """;

        CoreWords(chapter).ShouldBe(11); // "3. The server", "One two three.", "Back to the core", "Thirteen."
    }

    // The words a student reads on the short path: prose and headings, without code blocks, HTML
    // comments and the sections that open with "> **Optional.**".
    private static int CoreWords(string markdown)
    {
        string withoutCode = Regex.Replace(markdown, "```.*?```", "", RegexOptions.Singleline);
        string withoutComments = Regex.Replace(withoutCode, "<!--.*?-->", "", RegexOptions.Singleline);
        string[] lines = withoutComments.Split('\n');
        int words = 0;
        int skippingBelowLevel = 0;
        for (int index = 0; index < lines.Length; index++)
        {
            if (Heading().Match(lines[index]) is { Success: true } heading)
            {
                int level = heading.Groups["hashes"].Length;
                if (skippingBelowLevel > 0 && level <= skippingBelowLevel)
                {
                    skippingBelowLevel = 0;
                }

                bool optional = lines.Skip(index + 1).FirstOrDefault(line => line.Trim().Length > 0)?.StartsWith("> **Optional.**", StringComparison.Ordinal) == true;
                if (optional && level > 1)
                {
                    skippingBelowLevel = level;
                }
            }

            if (skippingBelowLevel == 0)
            {
                words += lines[index].Split(' ', StringSplitOptions.RemoveEmptyEntries).Count(word => word.Any(char.IsLetterOrDigit));
            }
        }

        return words;
    }

    private static string Section(string markdown, string anchor)
    {
        string[] lines = markdown.Split('\n');
        int start = Array.FindIndex(lines, line => Heading().Match(line) is { Success: true } heading && MarkdownLinkChecker.Slug(heading.Groups["text"].Value) == anchor);
        int end = Array.FindIndex(lines, start + 1, line => line.StartsWith("## ", StringComparison.Ordinal));
        return string.Join('\n', lines[start..(end < 0 ? lines.Length : end)]);
    }

    // | 4 | [3. The server](03-server.md) | what you get | 12 |
    [GeneratedRegex(@"^\| \d+ \| \[[^\]]+\]\((?<target>[^)]+)\)[^|]*\| [^|]+ \| (?<minutes>\d+) \|$", RegexOptions.Multiline)]
    private static partial Regex Row();

    [GeneratedRegex(@"\*\*in all\*\* \| \*\*(?<minutes>\d+)\*\*")]
    private static partial Regex Total();

    [GeneratedRegex(@"^(?<hashes>#+) (?<text>.+)$")]
    private static partial Regex Heading();
}
