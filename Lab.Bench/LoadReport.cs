using System.Globalization;
using System.Text.Json;

namespace Lab.Bench;

/// <summary>
/// Prints one load run (the <c>load</c> command): a small table for people and one JSON line,
/// prefixed <c>LOAD_JSON</c>, for scripts.
/// </summary>
/// <example>
/// <code>
/// LoadReport.Write(Console.Out, options, result);
/// </code>
/// </example>
public static class LoadReport
{
    public static void Write(TextWriter output, LoadOptions options, LoadResult result)
    {
        string mode = options.NewConnectionPerCall ? "new connection per call" : "persistent";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{options.CallName} against {options.Host}:{options.Port}, {options.Connections} connection(s), {mode}, {result.Seconds:0.#} s measured"));
        output.WriteLine("| calls/s | p50 µs | p90 µs | p99 µs | calls | errors |");
        output.WriteLine("|---:|---:|---:|---:|---:|---:|");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {result.CallsPerSecond:N0} | {result.P50Microseconds:N1} | {result.P90Microseconds:N1} | {result.P99Microseconds:N1} | {result.Calls:N0} | {result.Errors:N0} |"));
        if (result.FirstError is { } error)
        {
            output.WriteLine($"First error: {error}");
        }

        output.WriteLine("LOAD_JSON " + JsonSerializer.Serialize(new
        {
            host = options.Host,
            port = options.Port,
            connections = options.Connections,
            payloadBytes = options.PayloadSize,
            newConnectionPerCall = options.NewConnectionPerCall,
            seconds = result.Seconds,
            calls = result.Calls,
            callsPerSecond = Math.Round(result.CallsPerSecond, 1),
            p50Us = Math.Round(result.P50Microseconds, 2),
            p90Us = Math.Round(result.P90Microseconds, 2),
            p99Us = Math.Round(result.P99Microseconds, 2),
            errors = result.Errors,
            firstError = result.FirstError,
        }));
    }
}
