using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Lab.Hosting;

/// <summary>Writes <see cref="LogLine"/> lines to the console (no colours: output is often redirected to a scenario log).</summary>
public sealed class LabConsoleFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "lab";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        string message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        textWriter.WriteLine(LogLine.Format(DateTimeOffset.Now, logEntry.LogLevel, logEntry.Category, message, logEntry.Exception));
    }
}
