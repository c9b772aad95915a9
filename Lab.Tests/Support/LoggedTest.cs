using Microsoft.Extensions.Logging;

namespace Lab.Tests.Support;

/// <summary>
/// A test fixture whose code under test logs into a fresh <see cref="LogRecorder"/> per test, so each
/// test can await and assert its own log lines. One place for the set-up several fixtures shared.
/// </summary>
public abstract class LoggedTest
{
    /// <summary>This test's log lines.</summary>
    protected LogRecorder Log { get; private set; } = null!;

    /// <summary>The factory to hand to the code under test; it writes into <see cref="Log"/>.</summary>
    protected ILoggerFactory LoggerFactory { get; private set; } = null!;

    [SetUp]
    public void CreateLog()
    {
        Log = new LogRecorder();
        LoggerFactory = Log.CreateFactory();
    }

    [TearDown]
    public void DisposeLog()
    {
        LoggerFactory.Dispose();
        Log.Dispose();
    }
}
