// Every fixture may run beside the others: a fixture's own tests still run one after another, and
// the few fixtures that touch process-wide state (Console.Error, the meters) say [NonParallelizable].
// Tests pick free ports (port 0, or FreePorts), folders and namespaces of their own, so they never meet.
[assembly: Parallelizable(ParallelScope.Fixtures)]

namespace Lab.Tests;

/// <summary>Runs once before any test of the assembly (every test lives under the <c>Lab.Tests</c> namespace).</summary>
[SetUpFixture]
public sealed class TestAssemblySetup
{
    [OneTimeSetUp]
    public void RaiseThreadPoolMinimum()
    {
        // The tests run in parallel in one process, and many of them hold a pool thread while they wait
        // (a method blocked on an event, a synchronous wait in a fake peer). With the pool's default
        // minimum of one thread per core, everything else would queue behind them while the pool adds
        // about two threads a second. CallSlots raises the minimum only for calls that are running,
        // so the test process makes room for the tests' own waits itself.
        ThreadPool.GetMinThreads(out int workers, out int completionPorts);
        ThreadPool.SetMinThreads(Math.Max(workers, 128), completionPorts);
    }
}
