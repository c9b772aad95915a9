namespace Lab.Tests.Server.Support;

/// <summary>Shared waits for the server tests, so no test can hang.</summary>
internal static class TestTimeouts
{
    /// <summary>Something that should happen has not happened by now: the test fails instead of hanging.</summary>
    public static readonly TimeSpan Unexpected = TimeSpan.FromSeconds(30);

    /// <summary>A cancellation token that fires after <see cref="Unexpected"/>.</summary>
    public static CancellationToken UnexpectedToken() => new CancellationTokenSource(Unexpected).Token;
}
