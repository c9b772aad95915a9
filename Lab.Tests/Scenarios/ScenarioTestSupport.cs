using System.Collections.Concurrent;
using Lab.Scenarios;
using Lab.Scenarios.Harness;

namespace Lab.Tests.Scenarios;

/// <summary>What the scenario tests share: the located programs, the timings, and running one scenario quietly.</summary>
internal static class ScenarioTestSupport
{
    /// <summary>The per-scenario limit in tests: generous, it only bounds a failure.</summary>
    public static readonly TimeSpan ScenarioTimeout = TimeSpan.FromSeconds(150);

    // One run per scenario for the whole test process, so the catalog's test and the documentation's
    // blocks that show the same narration pay for it once.
    private static readonly ConcurrentDictionary<string, Lazy<Task<SharedScenarioRun>>> SharedRuns = new(StringComparer.Ordinal);

    public static LabPrograms Programs { get; } = LabPrograms.Locate();

    /// <summary>The lanes the catalog's scenarios share in this test process, as many as the runner's default.</summary>
    public static ScenarioLanes Lanes { get; } = new(ScenarioLanes.DefaultCount);

    /// <summary>Runs <paramref name="scenario"/> with the built-in timings; the narration goes to <paramref name="narration"/>.</summary>
    public static Task<ScenarioResult> RunAsync(Scenario scenario, StringWriter narration, TimeSpan? timeout = null) =>
        new ScenarioRunner(Programs, ScenarioTimings.Load(null), timeout ?? ScenarioTimeout, TextWriter.Synchronized(narration)).RunAsync(scenario);

    /// <summary>
    /// The one run of the catalog's scenario <paramref name="name"/> in this test process: the first
    /// caller starts it, every later caller gets the same result and narration.
    /// </summary>
    public static Task<SharedScenarioRun> RunOnceAsync(string name) =>
        SharedRuns.GetOrAdd(name, key => new Lazy<Task<SharedScenarioRun>>(() => RunSharedAsync(key))).Value;

    private static async Task<SharedScenarioRun> RunSharedAsync(string name)
    {
        Scenario scenario = ScenarioCatalog.Find(name) ?? throw new ArgumentException($"no scenario named {name}", nameof(name));
        // A shared run holds one of the lanes, as the runner's --parallel would: the scenarios are
        // isolated from each other, and the ones that measure timings run alone.
        using (await Lanes.EnterAsync(scenario.RunsAlone))
        {
            using var narration = new StringWriter();
            ScenarioResult result = await RunAsync(scenario, narration);
            return new SharedScenarioRun(result, narration.ToString());
        }
    }
}

/// <summary>A scenario's verdict and the narration it printed, exactly as the runner prints it.</summary>
internal sealed record SharedScenarioRun(ScenarioResult Result, string Narration);
