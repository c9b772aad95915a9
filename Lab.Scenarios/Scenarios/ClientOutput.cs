using System.Globalization;
using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Scenarios;

/// <summary>One successful call as the client program prints it: <c>add(1, 2) = 13  [server 127.0.0.1:8089]</c>.</summary>
internal sealed record PrintedCall(string Method, string ArgumentText, string ResultText, string Server);

/// <summary>The client's closing tally: <c>Summary: N succeeded, M failed</c> and one such line per server.</summary>
internal sealed record PrintedSummary(long Succeeded, long Failed, IReadOnlyDictionary<string, (long Succeeded, long Failed)> PerServer);

/// <summary>
/// One phase of a <c>--duration</c> run: <c>Phase frozen (from 5.2 s): 812 calls, p50 0.41 ms, p99 2.90 ms, max 4.41 ms, longest gap 0.12 s</c>.
/// </summary>
internal sealed record PrintedPhase(string Name, double FromSeconds, long Calls, double P50Milliseconds, double P99Milliseconds, double MaxMilliseconds, double LongestGapSeconds)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Name}: {Calls} calls, p50 {P50Milliseconds:0.00} ms, p99 {P99Milliseconds:0.00} ms, max {MaxMilliseconds:0.00} ms, longest gap {LongestGapSeconds:0.00} s");
}

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

    /// <summary>The <c>Longest gap without a completed call: 0.42 s</c> of a duration run's summary, in seconds; null when absent.</summary>
    public static double? LongestGap(IEnumerable<OutputLine> lines) =>
        lines.Select(line => LongestGapLine().Match(line.Text)).LastOrDefault(match => match.Success) is { } match
            ? double.Parse(match.Groups["seconds"].Value, CultureInfo.InvariantCulture)
            : null;

    /// <summary>Every <c>Phase NAME (from S s): ...</c> line of a duration run's summary, in order.</summary>
    public static IReadOnlyList<PrintedPhase> Phases(IEnumerable<OutputLine> lines) =>
        [.. lines.Select(line => PhaseLine().Match(line.Text)).Where(match => match.Success).Select(match => new PrintedPhase(
            match.Groups["name"].Value, Decimal(match.Groups["from"]), Number(match.Groups["calls"]),
            Decimal(match.Groups["p50"]), Decimal(match.Groups["p99"]), Decimal(match.Groups["max"]), Decimal(match.Groups["gap"])))];

    /// <summary>Matches a progress line (to wait for the next one).</summary>
    public const string ProgressPattern = @"^\[\s*\d+s\] \d+ succeeded, \d+ failed";

    /// <summary>A progress line with calls completed: the client has found a server and calls it (a first line may still say 0 on a busy machine).</summary>
    public const string CallingPattern = @"^\[\s*\d+s\] [1-9]\d* succeeded, \d+ failed";

    /// <summary>A progress line with at least two calls completed: under round_robin (the scenarios' default), one on each of two servers.</summary>
    public const string CallingBothPattern = @"^\[\s*\d+s\] ([2-9]|[1-9]\d+) succeeded, \d+ failed";

    private static long Number(Group group) => long.Parse(group.Value, CultureInfo.InvariantCulture);

    private static double Decimal(Group group) => double.Parse(group.Value, CultureInfo.InvariantCulture);

    // The demo appends its own verdict after the server ("  expected 13: ok"): allowed, ignored.
    [GeneratedRegex(@"^(?<method>\w+)\((?<args>.*)\) = (?<result>.*?)\s+\[server (?<server>\[[^\]]+\]:\d+|[^\]\s]+)\]")]
    private static partial Regex CallLine();

    [GeneratedRegex(@"^Summary: (?<ok>\d+) succeeded, (?<failed>\d+) failed")]
    private static partial Regex SummaryLine();

    [GeneratedRegex(@"^\s+(?<server>\S+): (?<ok>\d+) succeeded, (?<failed>\d+) failed")]
    private static partial Regex ServerSummaryLine();

    [GeneratedRegex(@"^\[\s*\d+s\] (?<ok>\d+) succeeded, (?<failed>\d+) failed")]
    private static partial Regex ProgressLine();

    [GeneratedRegex(@"^Longest gap without a completed call: (?<seconds>[\d.]+) s")]
    private static partial Regex LongestGapLine();

    [GeneratedRegex(@"^Phase (?<name>.*) \(from (?<from>[\d.]+) s\): (?<calls>\d+) calls, p50 (?<p50>[\d.]+) ms, p99 (?<p99>[\d.]+) ms, max (?<max>[\d.]+) ms, longest gap (?<gap>[\d.]+) s")]
    private static partial Regex PhaseLine();
}
