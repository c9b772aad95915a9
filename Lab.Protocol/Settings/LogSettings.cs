using Microsoft.Extensions.Logging;

namespace Lab.Protocol.Settings;

/// <summary><c>[logging]</c>: the lab's <c>Logger</c> — a level and an optional log file.</summary>
public sealed record LogSettings
{
    public const string SectionName = "logging";

    /// <summary>Lowest level written. Default Information (Debug adds lines for every call).</summary>
    public LogLevel Level { get; init; } = LogLevel.Information;

    /// <summary>Also append every line to this file; empty = console only.</summary>
    public string File { get; init; } = "";
}
