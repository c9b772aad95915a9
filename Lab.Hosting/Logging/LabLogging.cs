using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Lab.Protocol.Settings;

namespace Lab.Hosting;

/// <summary>The logging set-up shared by the registry, server and client: one timestamped line per event on
/// the console, optionally also in a file (the lab's <c>Logger</c>).</summary>
public static class LabLogging
{
    /// <summary>Replaces the default providers with the RpcLab console format (and file, when configured).</summary>
    public static ILoggingBuilder AddLabLogging(this ILoggingBuilder builder, LogSettings settings)
    {
        builder.ClearProviders();
        builder.SetMinimumLevel(settings.Level);
        // The framework's own start-up chatter ("Now listening on...", "Application started") would
        // drown the lines a student reads; our programs print their own readiness line.
        builder.AddFilter("Microsoft", LogLevel.Warning);
        builder.AddFilter("System.Net.Http", LogLevel.Warning);
        builder.AddConsole(options =>
        {
            options.FormatterName = LabConsoleFormatter.FormatterName;
            // Under heavy load, drop lines rather than stall request handling on a full console queue.
            options.QueueFullMode = ConsoleLoggerQueueFullMode.DropWrite;
        });
        builder.AddConsoleFormatter<LabConsoleFormatter, ConsoleFormatterOptions>();
        if (settings.File.Length > 0)
            builder.Services.AddSingleton<ILoggerProvider>(_ => new FileLoggerProvider(settings.File));

        return builder;
    }

    /// <summary>A stand-alone logger factory with the same set-up, for code that runs without a host.</summary>
    public static ILoggerFactory CreateFactory(LogSettings settings) =>
        LoggerFactory.Create(builder => builder.AddLabLogging(settings));
}
