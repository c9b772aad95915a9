using System.Globalization;
using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Scenarios;

/// <summary>One successful call as the client program prints it: <c>add(1, 2) = 13  [server 127.0.0.1:8089]</c>.</summary>
internal sealed record PrintedCall(string Method, string ArgumentText, string ResultText, string Server);

/// <summary>The client's closing tally: <c>Summary: N succeeded, M failed</c> and one such line per server.</summary>
internal sealed record PrintedSummary(long Succeeded, long Failed, IReadOnlyDictionary<string, (long Succeeded, long Failed)> PerServer);

/// <summary>
/// Reads the client program's plain output lines (the contract all programs share, not log lines),
/// so scenarios can check results, the summary and the progress of a <c>--duration</c> run.
/// </summary>
/// <example>
/// <code>
/// PrintedSummary? summary = ClientOutput.Summary(run.Lines);
/// IReadOnlyList&lt;PrintedCall&gt; calls = ClientOutput.Calls(run.Lines);
/// </code>
/// </example>
internal static partial class ClientOutput
{
    /// <summary>Every <c>method(args) = result  [server H:P]</c> line.</summary>
    public static IReadOnlyList<PrintedCall> Calls(IEnumerable<OutputLine> lines) =>
        [.. lines.Select(line => CallLine().Match(line.Text)).Where(match => match.Success).Select(match => new PrintedCall(
            match.Groups["method"].Value, match.Groups["args"].Value, match.Groups["result"].Value, match.Groups["server"].Value))];

    /// <summary>The summary block, or null when the client printed none.</summary>
    public static PrintedSummary? Summary(IEnumerable<OutputLine> lines)
    {
        OutputLine[] all = [.. lines];
        int index = Array.FindLastIndex(all, line => SummaryLine().IsMatch(line.Text));
        if (index < 0)
        {
            return null;
        }

        Match total = SummaryLine().Match(all[index].Text);
        var perServer = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        foreach (OutputLine line in all.Skip(index + 1))
        {
            Match server = ServerSummaryLine().Match(line.Text);
            if (server.Success)
            {
                perServer[server.Groups["server"].Value] = (Number(server.Groups["ok"]), Number(server.Groups["failed"]));
            }
        }

        return new PrintedSummary(Number(total.Groups["ok"]), Number(total.Groups["failed"]), perServer);
    }

    /// <summary>The succeeded count of each <c>[  3s] 1234 succeeded, 0 failed</c> progress line so far.</summary>
    public static IReadOnlyList<(long Succeeded, long Failed)> Progress(IEnumerable<OutputLine> lines) =>
        [.. lines.Select(line => ProgressLine().Match(line.Text)).Where(match => match.Success).Select(match => (Number(match.Groups["ok"]), Number(match.Groups["failed"])))];

    /// <summary>Matches a progress line (to wait for the next one).</summary>
    public const string ProgressPattern = @"^\[\s*\d+s\] \d+ succeeded, \d+ failed";

    private static long Number(Group group) => long.Parse(group.Value, CultureInfo.InvariantCulture);

    // The demo appends its own verdict after the server ("  expected 13: ok"): allowed, ignored.
    [GeneratedRegex(@"^(?<method>\w+)\((?<args>.*)\) = (?<result>.*?)\s+\[server (?<server>\[[^\]]+\]:\d+|[^\]\s]+)\]")]
    private static partial Regex CallLine();

    [GeneratedRegex(@"^Summary: (?<ok>\d+) succeeded, (?<failed>\d+) failed")]
    private static partial Regex SummaryLine();

    [GeneratedRegex(@"^\s+(?<server>\S+): (?<ok>\d+) succeeded, (?<failed>\d+) failed")]
    private static partial Regex ServerSummaryLine();

    [GeneratedRegex(@"^\[\s*\d+s\] (?<ok>\d+) succeeded, (?<failed>\d+) failed")]
    private static partial Regex ProgressLine();
}
