using System.Globalization;
using Lab.Protocol;
using Microsoft.Extensions.Logging;

namespace Lab.Hosting;

/// <summary>The one line format of every RpcLab log: <c>2026-11-25 19:30:01.123 INFO  TcpServer: message</c>.
/// One line per event keeps the scenario narration and <c>grep</c> simple.</summary>
public static class LogLine
{
    /// <summary>Formats one event. An exception adds its type and message on the same line, not a stack trace.</summary>
    public static string Format(DateTimeOffset time, LogLevel level, string category, string message, Exception? exception)
    {
        string text = exception is null ? message : $"{message} ({exception.GetType().Name}: {exception.Message})";
        // A multi-line message would break "one line per event"; fold it.
        if (text.Contains('\n', StringComparison.Ordinal))
            text = text.ReplaceLineEndings(" | ");
        // Log lines quote peers (a host name, a registry's error): an escape sequence in one must not
        // drive the terminal that shows the log. Only the escaping, not the shortening: our own lines may be long.
        text = PeerText.Printable(text, int.MaxValue);

        return string.Create(CultureInfo.InvariantCulture, $"{time:yyyy-MM-dd HH:mm:ss.fff} {LevelName(level)} {ShortCategory(category)}: {text}");
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "TRACE",
        LogLevel.Debug => "DEBUG",
        LogLevel.Information => "INFO ",
        LogLevel.Warning => "WARN ",
        LogLevel.Error => "ERROR",
        LogLevel.Critical => "FATAL",
        _ => "     ",
    };

    // "Lab.Server.TcpServer" reads as "TcpServer": the class a student looks for.
    private static string ShortCategory(string category)
    {
        int lastDot = category.LastIndexOf('.');
        return lastDot >= 0 && category.StartsWith("Lab.", StringComparison.Ordinal) ? category[(lastDot + 1)..] : category;
    }
}
