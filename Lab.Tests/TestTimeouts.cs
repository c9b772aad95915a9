namespace Lab.Tests;

/// <summary>
/// Time limits shared by every test, so no test can hang (the StreamJsonRpc convention).
/// </summary>
public static class TestTimeouts
{
    /// <summary>How long to wait for something that should happen; reaching it means the test failed.</summary>
    public static readonly TimeSpan Unexpected = TimeSpan.FromSeconds(30);

    /// <summary>A deliberately short timeout for the code under test, when the test wants it to fire.</summary>
    public static readonly TimeSpan Expected = TimeSpan.FromMilliseconds(200);
}
