namespace Lab.Tests.Client.Support;

/// <summary>
/// The timings the client tests share. Settings are short so the suite stays quick; every wait is
/// bounded by <see cref="Unexpected"/>, so a bug makes a test fail, never hang.
/// </summary>
public static class TestTimeouts
{
    /// <summary>Upper bound for anything that should happen: a wait that reaches it is a failure.</summary>
    public static readonly TimeSpan Unexpected = TimeSpan.FromSeconds(30);

    /// <summary>
    /// "Promptly": a timeout configured at <see cref="Short"/> must surface well within this. Generous
    /// on purpose — the build machine is shared — yet far below the default timeouts (3 to 30 s), so a
    /// timeout that is not applied still fails the test.
    /// </summary>
    public static readonly TimeSpan Prompt = TimeSpan.FromSeconds(2.5);

    /// <summary>The value tests configure for the timeout under test.</summary>
    public static readonly TimeSpan Short = TimeSpan.FromSeconds(0.3);

    /// <summary>Registry poll interval in the tests.</summary>
    public static readonly TimeSpan Poll = TimeSpan.FromSeconds(0.05);
}
