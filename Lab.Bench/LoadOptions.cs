namespace Lab.Bench;

/// <summary>What one load run does: where, how many callers, for how long, which call.</summary>
/// <param name="Host">Server address (IPv4 or IPv6 literal, or a name).</param>
/// <param name="Port">Server port.</param>
/// <param name="Connections">Concurrent callers; each has its own connection in the raw modes.</param>
/// <param name="Duration">The measured window.</param>
/// <param name="Warmup">Calls made before the window opens, not counted (JIT, connection set-up, caches).</param>
/// <param name="PayloadSize">0 calls <c>add(1, 2)</c>; N calls <c>echo</c> with an N-byte string.</param>
/// <param name="NewConnectionPerCall">Connect, call and close for every call, as the lab's original client did.</param>
/// <param name="CallTimeout">Deadline for one whole call (connect, write, wait, read).</param>
public sealed record LoadOptions(
    string Host,
    int Port,
    int Connections,
    TimeSpan Duration,
    TimeSpan Warmup,
    int PayloadSize,
    bool NewConnectionPerCall,
    TimeSpan CallTimeout)
{
    /// <summary>The method the load calls, for tables: <c>add(1, 2)</c> or <c>echo(1 MiB)</c>.</summary>
    public string CallName => PayloadSize == 0 ? "add(1, 2)" : $"echo({FormatSize(PayloadSize)})";

    /// <summary><c>1 MiB</c>, <c>64 KiB</c>, <c>100 B</c>.</summary>
    public static string FormatSize(long bytes) => bytes switch
    {
        >= 1024 * 1024 when bytes % (1024 * 1024) == 0 => $"{bytes / (1024 * 1024)} MiB",
        >= 1024 when bytes % 1024 == 0 => $"{bytes / 1024} KiB",
        _ => $"{bytes} B",
    };
}

/// <summary>What one load run measured.</summary>
/// <param name="Calls">Successful calls that completed inside the measured window.</param>
/// <param name="Errors">Failed calls and failed connects, warm-up included (a goal is zero errors, at any time).</param>
/// <param name="Seconds">Length of the measured window.</param>
/// <param name="Latency">Latency of the counted calls.</param>
/// <param name="FirstError">The first failure's description, to say what went wrong.</param>
public sealed record LoadResult(long Calls, long Errors, double Seconds, LatencyHistogram Latency, string? FirstError)
{
    public double CallsPerSecond => Seconds > 0 ? Calls / Seconds : 0;

    public double P50Microseconds => Latency.PercentileMicroseconds(50);

    public double P90Microseconds => Latency.PercentileMicroseconds(90);

    public double P99Microseconds => Latency.PercentileMicroseconds(99);
}
