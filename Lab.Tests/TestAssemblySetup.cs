// Every fixture may run beside the others: a fixture's own tests still run one after another, and
// the few fixtures that touch process-wide state (Console.Error, the meters) say [NonParallelizable].
// Tests pick free ports (port 0, or FreePorts), folders and namespaces of their own, so they never meet.
[assembly: Parallelizable(ParallelScope.Fixtures)]

// Progress lines during the run, and the guard that keeps the fast inner loop fast (see TestProgress.cs).
[assembly: TestProgress]

namespace Lab.Tests;

/// <summary>Runs once before any test of the assembly (every test lives under the <c>Lab.Tests</c> namespace).</summary>
[SetUpFixture]
public sealed class TestAssemblySetup
{
    private IDisposable? _progress;

    [OneTimeSetUp]
    public void StartProgress() => _progress = TestProgress.Start();

    [OneTimeTearDown]
    public void StopProgress() => _progress?.Dispose();
}
