using Lab.Configuration;
using Microsoft.Extensions.Logging;

namespace Lab.Logging;

/// <summary><c>[logging]</c>: the lab's <c>Logger</c> — a level and an optional log file.</summary>
public sealed record LogSettings
{
    public const string SectionName = "logging";

    /// <summary>Lowest level written. Default Information (Debug adds one line per call).</summary>
    public LogLevel Level { get; init; } = LogLevel.Information;

    /// <summary>Also append every line to this file; empty = console only.</summary>
    public string File { get; init; } = "";

    public static LogSettings Read(LabConfiguration configuration)
    {
        ConfigSection section = configuration.Section(SectionName);
        var defaults = new LogSettings();
        return new LogSettings
        {
            Level = section.GetEnum("level", defaults.Level),
            File = section.GetString("file", defaults.File),
        };
    }
}
