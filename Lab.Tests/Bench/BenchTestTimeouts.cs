namespace Lab.Tests.Bench;

/// <summary>Deadlines for the benchmark's tests: long enough never to fire on a healthy run, so no test can hang.</summary>
internal static class BenchTestTimeouts
{
    /// <summary>Something that should happen at once; hitting this means the test failed.</summary>
    public static readonly TimeSpan Unexpected = TimeSpan.FromSeconds(30);

    /// <summary>A deadline a test expects to fire (a stalled peer).</summary>
    public static readonly TimeSpan Expected = TimeSpan.FromSeconds(0.2);
}
