using System.Collections.Concurrent;
using Lab.Protocol;
using Microsoft.Extensions.Logging;

namespace Lab.Registry.Dashboard;

/// <summary>
/// The dashboard's "recent events": the registry's own information lines (registered, unregistered,
/// evicted, self-preservation on or off...), caught as they are logged. Reading the log instead of
/// adding hooks keeps the registry's code unchanged, and the page says exactly what the log says.
/// </summary>
/// <remarks>Thread-safe: loggers write from request and health-check threads while the page reads.</remarks>
internal sealed class RegistryEvents(TimeProvider timeProvider, int capacity = 50) : ILoggerProvider
{
    /// <summary>Lines from categories under this prefix are events (the registry's classes).</summary>
    public const string CategoryPrefix = "Lab.Registry.";

    private readonly ConcurrentQueue<RegistryEvent> _events = new();

    /// <summary>The newest events first.</summary>
    public IReadOnlyList<RegistryEvent> Recent() => [.. _events.Reverse()];

    public ILogger CreateLogger(string categoryName) =>
        categoryName.StartsWith(CategoryPrefix, StringComparison.Ordinal) ? new EventLogger(this) : NullLoggerInstance;

    public void Dispose()
    {
    }

    private void Add(string text)
    {
        _events.Enqueue(new RegistryEvent(timeProvider.GetUtcNow(), text));
        while (_events.Count > capacity && _events.TryDequeue(out _))
        {
        }
    }

    private static readonly ILogger NullLoggerInstance = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    private sealed class EventLogger(RegistryEvents events) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        // Information and up: heartbeats (Debug) would bury the events a class wants to see.
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                // Escaped as the console log is: the page shows text, but an event is also read in its JSON.
                events.Add(PeerText.Printable(formatter(state, exception)));
            }
        }
    }
}

/// <summary>One event: when, and the registry's log line.</summary>
internal sealed record RegistryEvent(DateTimeOffset Time, string Text);
