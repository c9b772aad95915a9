using System.Text;
using System.Text.RegularExpressions;
using DiffPlex.DiffBuilder;
using DiffPlex.DiffBuilder.Model;

namespace Lab.Tests.Docs;

/// <summary>
/// Compares a block of program output shown in the docs with what the program printed this time:
/// what legitimately varies from run to run (times, durations, pids, ports, temporary folders) is
/// scrubbed on both sides first, and a line <c>...</c> in the docs stands for any number of lines
/// left out (<c>...</c> inside a line, for any text left out of it).
/// </summary>
/// <remarks>
/// When they differ, <see cref="Propose"/> writes the block the docs should show instead: each line
/// that still matches keeps its documented text (so a re-recorded page does not churn with new
/// timestamps), new or changed lines come from the run, and the places the docs left out stay left out.
/// <example>
/// <code>
/// var comparison = new OutputComparison(varyingNumbers: false);   // anyOrder: true for several programs' interleaved lines
/// bool same = comparison.Matches(documentedLines, printedLines);
/// string[] block = comparison.Propose(documentedLines, printedLines);
/// </code>
/// </example>
/// </remarks>
internal sealed partial class OutputComparison(bool varyingNumbers, bool anyOrder = false)
{
    /// <summary>The line that stands for lines left out.</summary>
    public const string Ellipsis = "...";

    /// <summary>The line with what varies from run to run replaced by placeholders.</summary>
    public string Scrub(string line)
    {
        string scrubbed = Timestamp().Replace(line, "<time>");
        scrubbed = NarrationOffset().Replace(scrubbed, "+<t>");
        scrubbed = RunnerClock().Replace(scrubbed, "${word} <clock>");
        scrubbed = ReportName().Replace(scrubbed, "scenarios-<time>");
        scrubbed = ScenarioFolder().Replace(scrubbed, "<scenario-folder>");
        scrubbed = HostAndPort().Replace(scrubbed, "${host}:<port>");
        scrubbed = PortOption().Replace(scrubbed, "${option} <port>");
        scrubbed = ProcessId().Replace(scrubbed, "pid <pid>");
        scrubbed = Duration().Replace(scrubbed, "<duration>");
        return varyingNumbers ? Number().Replace(scrubbed, "<n>") : scrubbed;
    }

    /// <summary>True when <paramref name="printed"/> is what <paramref name="documented"/> shows, up to scrubbing and <c>...</c>.</summary>
    public bool Matches(IReadOnlyList<string> documented, IReadOnlyList<string> printed)
    {
        if (anyOrder)
        {
            (int[] assigned, bool[] used) = AssignInAnyOrder(documented, printed);
            return assigned.All(index => index >= 0) && (documented.Any(IsEllipsis) || used.All(taken => taken));
        }

        string[] expected = [.. documented.Select(line => IsEllipsis(line) ? Ellipsis : Scrub(line))];
        string[] actual = [.. printed.Select(Scrub)];
        List<string[]> segments = Segments(expected);
        bool leading = expected.Length > 0 && expected[0] == Ellipsis;
        bool trailing = expected.Length > 0 && expected[^1] == Ellipsis;
        if (segments.Count == 0)
        {
            return leading || actual.Length == 0;
        }

        int position = 0;
        for (int index = 0; index < segments.Count; index++)
        {
            string[] segment = segments[index];
            bool first = index == 0 && !leading;
            bool last = index == segments.Count - 1 && !trailing;
            if (first && last)
            {
                return actual.Length == segment.Length && SegmentAt(segment, actual, 0);
            }

            if (first)
            {
                if (!SegmentAt(segment, actual, 0))
                {
                    return false;
                }

                position = segment.Length;
            }
            else if (last)
            {
                int start = actual.Length - segment.Length;
                return start >= position && SegmentAt(segment, actual, start);
            }
            else
            {
                // The earliest place is the right one: it leaves the most room for the segments after it.
                int found = Enumerable.Range(position, Math.Max(0, actual.Length - segment.Length - position + 1))
                    .Where(start => SegmentAt(segment, actual, start)).DefaultIfEmpty(-1).First();
                if (found < 0)
                {
                    return false;
                }

                position = found + segment.Length;
            }
        }

        return true;
    }

    /// <summary>
    /// The block the docs should show for <paramref name="printed"/>: where a documented line still matches,
    /// the printed line takes its place (so a block shows one run's ports and times, never a mix of two),
    /// unless the documented line leaves text out with <c>...</c>, which stays as written; the rest of the
    /// printed lines are shown, except where the docs had left lines out (there a changed line is kept if
    /// it resembles the documented one, the others stay out).
    /// </summary>
    public string[] Propose(IReadOnlyList<string> documented, IReadOnlyList<string> printed)
    {
        if (anyOrder)
        {
            return ProposeInAnyOrder(documented, printed);
        }

        // Documented lines without the ellipses, and for each the number of ellipses before it.
        var lines = new List<(string Text, int EllipsesBefore)>();
        int ellipses = 0;
        foreach (string line in documented)
        {
            if (IsEllipsis(line))
            {
                ellipses++;
            }
            else
            {
                lines.Add((line, ellipses));
            }
        }

        (int Documented, int Printed)[] pairs = LongestCommonSubsequence([.. lines.Select(line => line.Text)], printed);
        var proposal = new List<string>();
        int previousDocumented = -1;
        int previousPrinted = -1;
        foreach ((int documentedIndex, int printedIndex) in pairs.Append((lines.Count, printed.Count)))
        {
            int ellipsesBefore = documentedIndex < lines.Count ? lines[documentedIndex].EllipsesBefore : ellipses;
            int ellipsesAfterPrevious = previousDocumented < 0 ? 0 : lines[previousDocumented].EllipsesBefore;
            bool gapWasLeftOut = ellipsesBefore > ellipsesAfterPrevious;
            string[] gap = [.. printed.Skip(previousPrinted + 1).Take(printedIndex - previousPrinted - 1)];
            string[] replaced = [.. lines.Skip(previousDocumented + 1).Take(documentedIndex - previousDocumented - 1).Select(line => line.Text)];
            proposal.AddRange(gapWasLeftOut ? KeepResembling(gap, replaced) : gap);
            if (documentedIndex < lines.Count)
            {
                proposal.Add(FromThisRun(lines[documentedIndex].Text, printed[printedIndex]));
            }

            (previousDocumented, previousPrinted) = (documentedIndex, printedIndex);
        }

        // A block that started or ended with "..." keeps doing so: more lines may come there another time.
        if (documented.Count > 0 && IsEllipsis(documented[0]) && (proposal.Count == 0 || proposal[0] != Ellipsis))
        {
            proposal.Insert(0, Ellipsis);
        }

        if (documented.Count > 0 && IsEllipsis(documented[^1]) && (proposal.Count == 0 || proposal[^1] != Ellipsis))
        {
            proposal.Add(Ellipsis);
        }

        return [.. CollapseEllipses(proposal)];
    }

    /// <summary>A readable diff (DiffPlex) from the documented block to the proposed one, with two lines of context.</summary>
    public static string Diff(IReadOnlyList<string> documented, IReadOnlyList<string> proposed)
    {
        DiffPaneModel model = InlineDiffBuilder.Diff(string.Join('\n', documented), string.Join('\n', proposed), ignoreWhiteSpace: false);
        List<DiffPiece> pieces = model.Lines;
        var shown = new HashSet<int>();
        for (int index = 0; index < pieces.Count; index++)
        {
            if (pieces[index].Type != ChangeType.Unchanged)
            {
                for (int near = Math.Max(0, index - 2); near <= Math.Min(pieces.Count - 1, index + 2); near++)
                {
                    shown.Add(near);
                }
            }
        }

        var text = new StringBuilder();
        for (int index = 0; index < pieces.Count; index++)
        {
            if (!shown.Contains(index))
            {
                continue;
            }

            if (index > 0 && !shown.Contains(index - 1))
            {
                text.AppendLine("    ~~~");
            }

            string marker = pieces[index].Type switch
            {
                ChangeType.Deleted => "-",
                ChangeType.Inserted => "+",
                _ => " ",
            };
            text.Append("    ").Append(marker).Append(' ').AppendLine(pieces[index].Text);
        }

        return text.ToString();
    }

    private static bool IsEllipsis(string line) => line.Trim() == Ellipsis;

    // For lines several programs print at once, whose order is the scheduler's: each documented line
    // (ellipses aside) is paired with the first printed line it matches that no earlier one took.
    private (int[] Assigned, bool[] Used) AssignInAnyOrder(IReadOnlyList<string> documented, IReadOnlyList<string> printed)
    {
        bool[] used = new bool[printed.Count];
        int[] assigned = [.. documented.Where(line => !IsEllipsis(line)).Select(line =>
        {
            for (int index = 0; index < printed.Count; index++)
            {
                if (!used[index] && LineMatches(line, printed[index]))
                {
                    used[index] = true;
                    return index;
                }
            }

            return -1;
        })];
        return (assigned, used);
    }

    private string[] ProposeInAnyOrder(IReadOnlyList<string> documented, IReadOnlyList<string> printed)
    {
        (int[] assigned, bool[] used) = AssignInAnyOrder(documented, printed);
        var proposal = new List<string>();
        int next = 0;
        foreach (string line in documented)
        {
            if (IsEllipsis(line))
            {
                proposal.Add(Ellipsis);
                continue;
            }

            if (assigned[next++] is int match and >= 0)
            {
                proposal.Add(FromThisRun(line, printed[match]));
                continue;
            }

            // A documented line no run prints any more: the unused printed line most like it, if any.
            string expected = Scrub(line);
            int best = Enumerable.Range(0, printed.Count).Where(index => !used[index])
                .OrderByDescending(index => CommonPrefixLength(expected, Scrub(printed[index]))).DefaultIfEmpty(-1).First();
            if (best >= 0 && CommonPrefixLength(expected, Scrub(printed[best])) >= Math.Min(12, expected.Length / 2))
            {
                used[best] = true;
                proposal.Add(printed[best]);
            }
        }

        if (!documented.Any(IsEllipsis))
        {
            proposal.AddRange(printed.Where((_, index) => !used[index]));
        }

        return [.. CollapseEllipses(proposal)];
    }

    // A matching documented line is shown as this run printed it, unless it leaves text out on purpose.
    private static string FromThisRun(string documented, string printed) =>
        documented.Contains(Ellipsis, StringComparison.Ordinal) ? documented : printed;

    private bool LineMatches(string documented, string printed)
    {
        string expected = Scrub(documented);
        string actual = Scrub(printed);
        return ScrubbedLineMatches(expected, actual);
    }

    private static bool ScrubbedLineMatches(string expected, string actual) =>
        expected == actual
        || (expected.Contains(Ellipsis, StringComparison.Ordinal)
            && Regex.IsMatch(actual, "^" + string.Join(".*", expected.Split(Ellipsis).Select(Regex.Escape)) + "$", RegexOptions.Singleline));

    private static bool SegmentAt(string[] segment, string[] actual, int start) =>
        start >= 0 && start + segment.Length <= actual.Length
        && segment.Select((line, offset) => ScrubbedLineMatches(line, actual[start + offset])).All(matches => matches);

    private static List<string[]> Segments(string[] expected)
    {
        var segments = new List<string[]>();
        var current = new List<string>();
        foreach (string line in expected)
        {
            if (line == Ellipsis)
            {
                if (current.Count > 0)
                {
                    segments.Add([.. current]);
                    current.Clear();
                }
            }
            else
            {
                current.Add(line);
            }
        }

        if (current.Count > 0)
        {
            segments.Add([.. current]);
        }

        return segments;
    }

    // Pairs of (documented, printed) line indexes that match, in order, as many as possible. The
    // match is scrubbed equality or a '...' pattern, which a plain text diff cannot express.
    private (int Documented, int Printed)[] LongestCommonSubsequence(string[] documented, IReadOnlyList<string> printed)
    {
        int[,] length = new int[documented.Length + 1, printed.Count + 1];
        for (int d = documented.Length - 1; d >= 0; d--)
        {
            for (int p = printed.Count - 1; p >= 0; p--)
            {
                length[d, p] = LineMatches(documented[d], printed[p])
                    ? length[d + 1, p + 1] + 1
                    : Math.Max(length[d + 1, p], length[d, p + 1]);
            }
        }

        var pairs = new List<(int, int)>();
        for (int d = 0, p = 0; d < documented.Length && p < printed.Count;)
        {
            if (LineMatches(documented[d], printed[p]) && length[d, p] == length[d + 1, p + 1] + 1)
            {
                pairs.Add((d, p));
                d++;
                p++;
            }
            else if (length[d + 1, p] >= length[d, p + 1])
            {
                d++;
            }
            else
            {
                p++;
            }
        }

        return [.. pairs];
    }

    // In a stretch the docs left out, a documented line that no longer matches is replaced by the
    // printed line most like it (so a reworded log line stays shown); everything else stays out.
    private IEnumerable<string> KeepResembling(string[] gap, string[] replaced)
    {
        var kept = new SortedSet<int>();
        foreach (string documented in replaced)
        {
            string expected = Scrub(documented);
            int best = -1;
            int bestScore = 0;
            for (int index = 0; index < gap.Length; index++)
            {
                int score = CommonPrefixLength(expected, Scrub(gap[index]));
                if (!kept.Contains(index) && score > bestScore)
                {
                    (best, bestScore) = (index, score);
                }
            }

            if (best >= 0 && bestScore >= Math.Min(12, expected.Length / 2))
            {
                kept.Add(best);
            }
        }

        for (int index = 0; index < gap.Length; index++)
        {
            yield return kept.Contains(index) ? gap[index] : Ellipsis;
        }

        if (gap.Length == 0)
        {
            yield return Ellipsis;
        }
    }

    private static int CommonPrefixLength(string a, string b)
    {
        int length = 0;
        while (length < a.Length && length < b.Length && a[length] == b[length])
        {
            length++;
        }

        return length;
    }

    private static IEnumerable<string> CollapseEllipses(IEnumerable<string> lines)
    {
        string? previous = null;
        foreach (string line in lines)
        {
            if (!(line == Ellipsis && previous == Ellipsis))
            {
                yield return line;
            }

            previous = line;
        }
    }

    // 2026-11-25 20:00:12.285, as every log line starts.
    [GeneratedRegex(@"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\b")]
    private static partial Regex Timestamp();

    // "+  1.02s" at the start of a narration line.
    [GeneratedRegex(@"^\+\s*\d+\.\d+s")]
    private static partial Regex NarrationOffset();

    // The runner's progress line: "elapsed 0:09, about 1:58 left".
    [GeneratedRegex(@"(?<word>elapsed|about) \d+:\d\d(:\d\d)?")]
    private static partial Regex RunnerClock();

    [GeneratedRegex(@"scenarios-\d{8}-\d{6}")]
    private static partial Regex ReportName();

    // A scenario's temporary folder: /tmp/rpclab-happy-path-x3k9qa (earlier /tmp/rpclab-scenarios/happy-path-3f49677a).
    [GeneratedRegex(@"\S*rpclab-scenarios[/\\][\w.-]+-[0-9a-f]{8}|\S*[/\\]rpclab-[a-z0-9-]+-[A-Za-z0-9]{6}(?=[/\\\s]|$)")]
    private static partial Regex ScenarioFolder();

    // 127.0.0.1:34131, [::1]:8089, 10.77.0.12:8089 — every run picks its own free ports.
    [GeneratedRegex(@"(?<host>\b\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]|localhost):\d{1,5}\b")]
    private static partial Regex HostAndPort();

    // "-p 35339" in a command line the narration shows.
    [GeneratedRegex(@"(?<option>(?<!\S)(?:-p|--port)) \d{1,5}\b")]
    private static partial Regex PortOption();

    [GeneratedRegex(@"\bpid \d+")]
    private static partial Regex ProcessId();

    // 14.6 ms, 2.01 s, 8.1s, "(3.1 s)", "in 61.2 s": how long something took. The spaces before it go
    // too: a summary table right-aligns its times, so a longer one has fewer spaces in front.
    [GeneratedRegex(@"[ ]*(?<![\w.])\d+(?:\.\d+)? ?(?:ms|s)\b")]
    private static partial Regex Duration();

    [GeneratedRegex(@"\d+(?:[.,]\d+)*")]
    private static partial Regex Number();
}
