using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;

namespace Lab.Tests.Support;

/// <summary>
/// Shows that a long <c>dotnet test</c> is alive: every <see cref="Interval"/> a line with the tests
/// done, failed so far and still running (the longest-running first), and at once the name of each
/// test that fails — written to NUnit's progress stream, which <c>dotnet test</c> prints as it comes.
/// </summary>
/// <remarks>
/// <code>
/// progress 0:40  212 done, 0 failed; 5 running: Scenario_etcd_quorum_lost_passes 31s, Scenario_server_frozen_failover_passes 30s, ...
/// </code>
/// Concurrency: tests start and finish on every NUnit worker at once; the running set is a concurrent
/// dictionary and the counts are interlocked. The timer is owned by <see cref="TestAssemblySetup"/>,
/// which starts it before the first test and disposes it after the last.
/// </remarks>
internal static class TestProgress
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private static readonly Stopwatch Clock = Stopwatch.StartNew();
    private static readonly ConcurrentDictionary<string, (string Name, TimeSpan Started, StrongBox<int> ProcessStarts)> Running = new();
    private static int s_done;
    private static int s_failed;

    /// <summary>Starts the periodic line; dispose the result to stop it.</summary>
    public static IDisposable Start() => new Timer(_ => TestContext.Progress.WriteLine(Line()), null, Interval, Interval);

    public static void Started(ITest test) =>
        Running[test.Id] = (test.Name, Clock.Elapsed, ProcessTracker.CountStartsInThisFlow());

    /// <summary>How many processes <paramref name="test"/> (still running) started so far.</summary>
    public static int ProcessStarts(ITest test) => Running.TryGetValue(test.Id, out var entry) ? entry.ProcessStarts.Value : 0;

    /// <summary>Records the end of <paramref name="test"/>.</summary>
    public static void Finished(ITest test, ResultState outcome)
    {
        Interlocked.Increment(ref s_done);
        Running.TryRemove(test.Id, out var entry);
        if (outcome.Status == TestStatus.Failed)
        {
            Interlocked.Increment(ref s_failed);
            TestContext.Progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"progress {Clock.Elapsed:m\\:ss}  FAILED {test.FullName} ({(Clock.Elapsed - entry.Started).TotalSeconds:0.0} s)"));
        }
    }

    private static string Line()
    {
        TimeSpan now = Clock.Elapsed;
        var running = Running.Values.OrderBy(entry => entry.Started).ToList();
        string names = string.Join(", ", running.Take(6).Select(entry => string.Create(CultureInfo.InvariantCulture, $"{entry.Name} {(now - entry.Started).TotalSeconds:0}s")));
        string more = running.Count > 6 ? ", ..." : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"progress {now:m\\:ss}  {Volatile.Read(ref s_done)} done, {Volatile.Read(ref s_failed)} failed; {running.Count} running{(running.Count == 0 ? "" : ": ")}{names}{more}");
    }
}

/// <summary>
/// Applied to every test of the assembly: feeds <see cref="TestProgress"/>, and fails a test that
/// started a real process without being marked <see cref="SlowAttribute"/> — so the inner loop's
/// filter (<c>TestCategory!=Slow</c>) cannot quietly grow slow.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class TestProgressAttribute : Attribute, ITestAction
{
    public ActionTargets Targets => ActionTargets.Test;

    public void BeforeTest(ITest test) => TestProgress.Started(test);

    public void AfterTest(ITest test)
    {
        int processes = TestProgress.ProcessStarts(test);
        bool unmarked = processes > 0 && !IsSlow(test);
        TestProgress.Finished(test, unmarked ? ResultState.Failure : TestContext.CurrentContext.Result.Outcome);
        if (unmarked)
        {
            Assert.Fail($"{test.FullName} started {processes} process(es): mark it or its fixture [Slow], so the fast inner loop (TestCategory!=Slow) leaves it out");
        }
    }

    private static bool IsSlow(ITest? test)
    {
        for (; test is not null; test = test.Parent)
        {
            if (test.Properties[PropertyNames.Category].Contains(SlowAttribute.Category))
            {
                return true;
            }
        }

        return false;
    }
}
