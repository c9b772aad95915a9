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
    private readonly List<(Regex Pattern, TaskCompletionSource<string> Found)> _waiters = [];

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

    /// <summary>Waits for a line matching <paramref name="pattern"/> (already logged or still to come) and returns it.</summary>
    public async Task<string> WaitForLineAsync(string pattern)
    {
        var regex = new Regex(pattern);
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
            return await found.Task.WaitAsync(TestTimeouts.Unexpected);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"no log line matched /{pattern}/ within {TestTimeouts.Unexpected}; lines:\n{string.Join('\n', Lines)}");
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
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Pattern.IsMatch(line))
                {
                    _waiters[i].Found.TrySetResult(line);
                    _waiters.RemoveAt(i);
                }
            }
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
