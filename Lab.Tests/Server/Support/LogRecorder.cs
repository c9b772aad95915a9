using System.Text.RegularExpressions;
using Lab.Protocol.Logging;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Server.Support;

/// <summary>
/// Records every log line (in the programs' own format) and lets a test await a line matching a
/// pattern — an event to wait on, never a sleep.
/// </summary>
/// <remarks>Concurrency: loggers write from any thread; <see cref="_gate"/> guards both lists.</remarks>
internal sealed class LogRecorder : ILoggerProvider
{
    private readonly Lock _gate = new();
    private readonly List<string> _lines = [];
    private readonly List<Waiter> _waiters = [];

    /// <summary>A logger factory writing (at Debug and above) into this recorder.</summary>
    public ILoggerFactory CreateFactory() => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(LogLevel.Debug);
        builder.AddProvider(this);
    });

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>How many lines so far match <paramref name="pattern"/>.</summary>
    public int Count(string pattern) => Lines.Count(line => Regex.IsMatch(line, pattern));

    /// <summary>
    /// Waits until <paramref name="occurrences"/> lines matching <paramref name="pattern"/> were logged
    /// (counting those already there) and returns the last of them.
    /// </summary>
    public async Task<string> WaitForLineAsync(string pattern, int occurrences = 1)
    {
        var waiter = new Waiter(new Regex(pattern), occurrences);
        lock (_gate)
        {
            foreach (string line in _lines)
            {
                if (waiter.Offer(line))
                {
                    return line;
                }
            }

            _waiters.Add(waiter);
        }

        try
        {
            return await waiter.Found.Task.WaitAsync(TestTimeouts.Unexpected);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"not {occurrences} log line(s) matched /{pattern}/ within {TestTimeouts.Unexpected}; lines:\n{string.Join('\n', Lines)}");
        }
    }

    public ILogger CreateLogger(string categoryName) => new RecordingLogger(this, categoryName);

    public void Dispose()
    {
    }

    private void Add(string line)
    {
        lock (_gate)
        {
            _lines.Add(line);
            _waiters.RemoveAll(waiter => waiter.Offer(line));
        }
    }

    private sealed class Waiter(Regex pattern, int occurrences)
    {
        private int _seen;

        public TaskCompletionSource<string> Found { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Counts a matching line; true (and <see cref="Found"/> completed) when enough were seen.</summary>
        public bool Offer(string line)
        {
            if (!pattern.IsMatch(line) || ++_seen < occurrences)
            {
                return false;
            }

            Found.TrySetResult(line);
            return true;
        }
    }

    private sealed class RecordingLogger(LogRecorder recorder, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            recorder.Add(LogLine.Format(DateTimeOffset.Now, logLevel, category, formatter(state, exception), exception));
    }
}
