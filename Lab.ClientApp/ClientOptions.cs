namespace Lab.ClientApp;

/// <summary>What the command line asked for; null means "not given, use the configuration file".</summary>
/// <param name="ConfigPath"><c>--config</c>.</param>
/// <param name="Mode"><c>-m/--mode</c>: server or registry.</param>
/// <param name="Host"><c>-i/--host</c>: the server in server mode.</param>
/// <param name="Port"><c>-p/--port</c>: the server's port in server mode.</param>
/// <param name="DurationSeconds"><c>--duration</c>: keep calling this long.</param>
/// <param name="Concurrency"><c>--concurrency</c>: calls in flight at once in duration mode.</param>
/// <param name="Call"><c>METHOD [ARG...]</c>: one call; empty for the demo.</param>
/// <param name="IntervalMilliseconds"><c>--interval</c>: in duration mode, the least time between the starts of one caller's calls; null: back to back.</param>
public sealed record ClientOptions(
    string? ConfigPath = null,
    string? Mode = null,
    string? Host = null,
    int? Port = null,
    double? DurationSeconds = null,
    int Concurrency = ClientOptions.DefaultConcurrency,
    IReadOnlyList<string>? Call = null,
    double? IntervalMilliseconds = null)
{
    public const int DefaultConcurrency = 4;
}
