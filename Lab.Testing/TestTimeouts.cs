namespace Lab.Testing;

/// <summary>
/// The time limits every test shares, so no test can hang: each wait is bounded by
/// <see cref="Unexpected"/>, and a bug makes a test fail instead. The short values are what tests
/// configure for the timeout under test, so the suite stays quick.
/// </summary>
public static class TestTimeouts
{
    /// <summary>Upper bound for anything that should happen: a wait that reaches it is a failure.</summary>
    public static readonly TimeSpan Unexpected = TimeSpan.FromSeconds(30);

    /// <summary>A deliberately short timeout for the code under test, when the test wants it to fire.</summary>
    public static readonly TimeSpan Expected = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// "Promptly": a timeout configured at <see cref="Short"/> must surface well within this. Generous
    /// on purpose — the build machine is shared — yet far below the default timeouts (3 to 30 s), so a
    /// timeout that is not applied still fails the test.
    /// </summary>
    public static readonly TimeSpan Prompt = TimeSpan.FromSeconds(2.5);

    /// <summary>The value the client tests configure for the timeout under test.</summary>
    public static readonly TimeSpan Short = TimeSpan.FromSeconds(0.3);

    /// <summary>Registry poll interval in the client tests.</summary>
    public static readonly TimeSpan Poll = TimeSpan.FromSeconds(0.05);

    /// <summary>
    /// How much earlier than its due time, on a <see cref="System.Diagnostics.Stopwatch"/>, a .NET timer
    /// (<c>CancelAfter</c>, <c>Task.Delay</c>) may fire: it counts whole milliseconds of a coarser clock.
    /// A test that proves a wait lasted at least its setting allows this much.
    /// </summary>
    public static readonly TimeSpan TimerGranularity = TimeSpan.FromMilliseconds(16);

    /// <summary>A cancellation token that fires after <see cref="Unexpected"/>.</summary>
    public static CancellationToken UnexpectedToken() => new CancellationTokenSource(Unexpected).Token;
}
