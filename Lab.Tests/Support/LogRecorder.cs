using System.Text.RegularExpressions;
using Lab.Hosting;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Support;

/// <summary>
/// Records every log line (in the programs' own LabLogging format) and lets a test await one — the
/// event "Evicted json://..." or "Registry unreachable" — instead of sleeping and hoping it happened.
/// Also collects a child process's output lines (<see cref="AddLine"/>), so those can be awaited too.
/// <code>
/// var log = new LogRecorder();
/// using ILoggerFactory factory = log.CreateFactory();   // hand to the code under test
/// await log.WaitForLineAsync("Server listening on");
/// </code>
/// </summary>
/// <remarks>Concurrency: loggers write from any thread; <see cref="_gate"/> guards both lists.</remarks>
public sealed class LogRecorder : ILoggerProvider
{
    private readonly Lock _gate = new();
    private readonly List<LogEntry> _entries = [];
    private readonly List<Waiter> _waiters = [];

    /// <summary>One recorded line; <see cref="Line"/> is the formatted text, the rest its parts.</summary>
    /// <remarks>A line read from a process has <see cref="LogLevel.None"/> and an empty category: only its text is known.</remarks>
    public sealed record LogEntry(LogLevel Level, string Category, string Message, string Line);

    /// <summary>A logger factory writing (at Debug and above) into this recorder.</summary>
    public ILoggerFactory CreateFactory() => LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(this));

    /// <summary>Raised after each line is recorded, so a test double can re-check a condition on its log.</summary>
    public event Action? LineAdded;

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

    public IReadOnlyList<string> Lines => [.. Entries.Select(entry => entry.Line)];

    /// <summary>How many lines so far match the regular expression <paramref name="pattern"/>.</summary>
    public int Count(string pattern) => Lines.Count(line => Regex.IsMatch(line, pattern, RegexOptions.CultureInvariant));

    /// <summary>How many messages so far were logged at <paramref name="level"/> and contain <paramref name="containing"/>.</summary>
    public int Count(LogLevel level, string containing) => Entries.Count(entry => IsAt(entry, level, containing));

    /// <summary>
    /// Waits until <paramref name="occurrences"/> lines matching the regular expression
    /// <paramref name="pattern"/> were logged (counting those already there) and returns the last of them.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired first (the waiter lost interest, e.g. the process exited).</exception>
    public Task<string> WaitForLineAsync(string pattern, int occurrences = 1, CancellationToken cancellationToken = default)
    {
        var regex = new Regex(pattern, RegexOptions.CultureInvariant);
        return WaitForAsync(entry => regex.IsMatch(entry.Line), occurrences, $"{occurrences} log line(s) matching /{pattern}/", cancellationToken);
    }

    /// <summary>Waits until <paramref name="count"/> messages at <paramref name="level"/> containing <paramref name="containing"/> were logged.</summary>
    public Task WaitForAsync(LogLevel level, string containing, int count = 1) =>
        WaitForAsync(entry => IsAt(entry, level, containing), count, $"{count} log line(s) at {level} containing \"{containing}\"", CancellationToken.None);

    /// <summary>Adds a line as if it had been logged (for output read from a child process).</summary>
    public void AddLine(string? line)
    {
        if (line is not null)
        {
            Add(new LogEntry(LogLevel.None, "", line, line));
        }
    }

    public ILogger CreateLogger(string categoryName) => new RecordingLogger(this, categoryName);

    public void Dispose()
    {
    }

    private static bool IsAt(LogEntry entry, LogLevel level, string containing) =>
        entry.Level == level && entry.Message.Contains(containing, StringComparison.Ordinal);

    private async Task<string> WaitForAsync(Func<LogEntry, bool> matches, int occurrences, string what, CancellationToken cancellationToken)
    {
        var waiter = new Waiter(matches, occurrences);
        lock (_gate)
        {
            foreach (LogEntry entry in _entries)
            {
                if (waiter.Offer(entry))
                {
                    return entry.Line;
                }
            }

            _waiters.Add(waiter);
        }

        try
        {
            return await waiter.Found.Task.WaitAsync(TestTimeouts.Unexpected, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Forget(waiter);
            throw;
        }
        catch (TimeoutException)
        {
            Forget(waiter);
            throw new TimeoutException($"no {what} within {TestTimeouts.Unexpected.TotalSeconds} s; lines were:{Environment.NewLine}{string.Join(Environment.NewLine, Lines)}");
        }
    }

    private void Forget(Waiter waiter)
    {
        lock (_gate)
        {
            _waiters.Remove(waiter);
        }
    }

    private void Add(LogEntry entry)
    {
        lock (_gate)
        {
            _entries.Add(entry);
            _waiters.RemoveAll(waiter => waiter.Offer(entry));
        }

        LineAdded?.Invoke();
    }

    /// <summary>One pending wait: counts matching entries and completes on the last one needed.</summary>
    private sealed class Waiter(Func<LogEntry, bool> matches, int occurrences)
    {
        private int _seen;

        public TaskCompletionSource<string> Found { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Counts a matching entry; true (and <see cref="Found"/> completed) when enough were seen.</summary>
        public bool Offer(LogEntry entry)
        {
            if (!matches(entry) || ++_seen < occurrences)
            {
                return false;
            }

            Found.TrySetResult(entry.Line);
            return true;
        }
    }

    private sealed class RecordingLogger(LogRecorder recorder, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string message = formatter(state, exception);
            recorder.Add(new LogEntry(logLevel, category, message, LogLine.Format(DateTimeOffset.Now, logLevel, category, message, exception)));
        }
    }
}
