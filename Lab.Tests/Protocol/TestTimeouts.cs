namespace Lab.Tests.Protocol;

/// <summary>
/// Time limits shared by the protocol and registry tests, so no test can hang (the StreamJsonRpc
/// convention). Deliberately not in the enclosing <c>Lab.Tests</c> namespace, where it would shadow the
/// other test folders' own <c>TestTimeouts</c> classes.
/// </summary>
public static class TestTimeouts
{
    /// <summary>How long to wait for something that should happen; reaching it means the test failed.</summary>
    public static readonly TimeSpan Unexpected = TimeSpan.FromSeconds(30);

    /// <summary>A deliberately short timeout for the code under test, when the test wants it to fire.</summary>
    public static readonly TimeSpan Expected = TimeSpan.FromMilliseconds(200);
}
