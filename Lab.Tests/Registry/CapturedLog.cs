using System.Text.RegularExpressions;
using Lab.Protocol.Logging;
using Lab.Tests.Protocol;
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
    private readonly List<(Regex Pattern, int Remaining, TaskCompletionSource<string> Found)> _waiters = [];

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

    /// <summary>
    /// Completes with the <paramref name="occurrence"/>-th line (already logged or still to come) that
    /// matches the pattern.
    /// </summary>
    public async Task<string> WaitForLineAsync(string pattern, int occurrence = 1, TimeSpan? timeout = null)
    {
        var regex = new Regex(pattern, RegexOptions.CultureInvariant);
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            List<string> matches = _lines.Where(line => regex.IsMatch(line)).ToList();
            if (matches.Count >= occurrence)
            {
                return matches[occurrence - 1];
            }

            _waiters.Add((regex, occurrence - matches.Count, found));
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

    /// <summary>Adds a line as if it had been logged (for output read from a child process).</summary>
    public void AddLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _lines.Add(line);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                (Regex pattern, int remaining, TaskCompletionSource<string> found) = _waiters[i];
                if (!pattern.IsMatch(line))
                {
                    continue;
                }

                if (remaining == 1)
                {
                    found.TrySetResult(line);
                    _waiters.RemoveAt(i);
                }
                else
                {
                    _waiters[i] = (pattern, remaining - 1, found);
                }
            }
        }
    }

    private sealed class Logger(CapturedLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log.AddLine(LogLine.Format(DateTimeOffset.Now, logLevel, category, formatter(state, exception), exception));
    }
}
