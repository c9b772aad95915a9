using Microsoft.Extensions.Logging;

namespace Lab.Tests.Client.Support;

/// <summary>Records every log line so tests can wait for an event ("Registry unreachable") and count them.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly Lock _gate = new();
    private readonly List<LogEntry> _entries = [];
    private readonly ChangeSignal _changed = new();

    public sealed record LogEntry(LogLevel Level, string Category, string Message);

    /// <summary>A factory that logs (at Debug and above) into this provider.</summary>
    public ILoggerFactory CreateFactory() => LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(this));

    public IReadOnlyList<LogEntry> Entries
    {
        get
        {
            lock (_gate)
            {
                return [.. _entries];
            }
        }
    }

    public int Count(LogLevel level, string containing) =>
        Entries.Count(entry => entry.Level == level && entry.Message.Contains(containing, StringComparison.Ordinal));

    public Task WaitForAsync(LogLevel level, string containing, int count = 1) =>
        _changed.WaitUntilAsync(() => Count(level, containing) >= count, $"{count} log line(s) at {level} containing \"{containing}\"");

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(this, categoryName);

    public void Dispose()
    {
    }

    private void Add(LogEntry entry)
    {
        lock (_gate)
        {
            _entries.Add(entry);
        }

        _changed.Notify();
    }

    private sealed class CapturingLogger(CapturingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            provider.Add(new LogEntry(logLevel, category, formatter(state, exception)));
    }
}
