using System.Text.RegularExpressions;
using Lab.Protocol.Logging;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Registry;

/// <summary>
/// A logger provider that keeps every line (in the LabLogging format) so tests can wait for an event
/// — "Evicted json://..." — instead of sleeping and hoping it happened.
/// </summary>
public sealed class CapturedLog : ILoggerProvider
{
    private readonly Lock _gate = new();

    // Guarded by _gate.
    private readonly List<string> _lines = [];
    private readonly List<(Regex Pattern, TaskCompletionSource<string> Found)> _waiters = [];

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

    /// <summary>Completes with the first line (already logged or still to come) that matches the pattern.</summary>
    public async Task<string> WaitForLineAsync(string pattern, TimeSpan? timeout = null)
    {
        var regex = new Regex(pattern, RegexOptions.CultureInvariant);
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            string? existing = _lines.FirstOrDefault(regex.IsMatch);
            if (existing is not null)
            {
                return existing;
            }

            _waiters.Add((regex, found));
        }

        try
        {
            return await found.Task.WaitAsync(timeout ?? TestTimeouts.Unexpected);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"no log line matched /{pattern}/; lines were:{Environment.NewLine}{string.Join(Environment.NewLine, Lines)}");
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Add(string line)
    {
        lock (_gate)
        {
            _lines.Add(line);
            foreach ((Regex pattern, TaskCompletionSource<string> found) in _waiters.Where(waiter => waiter.Pattern.IsMatch(line)).ToList())
            {
                found.TrySetResult(line);
                _waiters.Remove((pattern, found));
            }
        }
    }

    private sealed class Logger(CapturedLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log.Add(LogLine.Format(DateTimeOffset.Now, logLevel, category, formatter(state, exception), exception));
    }
}
