using System.Globalization;
using System.Text.RegularExpressions;

namespace Lab.Testing;

/// <summary>The line each program prints once it accepts connections, and the address read from it. Every
/// harness (tests, scenarios, benchmark) starts programs on port 0 and learns the real port here, so the
/// patterns live in one place and follow the programs' wording.</summary>
/// <example><code>
/// OutputLine line = await server.WaitForLineAsync(ReadyLine.Server(), timeout);
/// (string host, int port) = ReadyLine.Address(ReadyLine.Server(), line.Text);   // ("::1", 40123)
/// </code></example>
public static partial class ReadyLine
{
    /// <summary><c>Registry listening on http://127.0.0.1:40123</c> (IPv6 hosts in brackets).</summary>
    [GeneratedRegex(@"Registry listening on http://(?<host>\[[^\]]+\]|[^\s:/]+):(?<port>\d+)")]
    public static partial Regex Registry();

    /// <summary><c>Server listening on 127.0.0.1:40123</c> or <c>Server listening on [::1]:40123</c>.</summary>
    [GeneratedRegex(@"Server listening on (?<host>\[[^\]]+\]|[^\s:]+):(?<port>\d+)")]
    public static partial Regex Server();

    /// <summary><c>Floor listening on 127.0.0.1:40123</c>: the benchmark's raw-socket floor server.</summary>
    [GeneratedRegex(@"Floor listening on (?<host>\[[^\]]+\]|[^\s:]+):(?<port>\d+)")]
    public static partial Regex Floor();

    /// <summary>The host (without IPv6 brackets) and port of a ready line matched by <paramref name="pattern"/>.</summary>
    /// <exception cref="FormatException"><paramref name="text"/> is not such a line.</exception>
    public static (string Host, int Port) Address(Regex pattern, string text)
    {
        Match match = pattern.Match(text);
        if (!match.Success)
            throw new FormatException($"not a ready line: \"{text}\"");
        string host = match.Groups["host"].Value;
        return (host.StartsWith('[') ? host[1..^1] : host, int.Parse(match.Groups["port"].Value, CultureInfo.InvariantCulture));
    }
}
