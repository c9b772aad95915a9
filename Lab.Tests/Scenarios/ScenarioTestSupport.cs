using Lab.Scenarios;
using Lab.Scenarios.Harness;

namespace Lab.Tests.Scenarios;

/// <summary>What the scenario tests share: the located programs, the timings, and running one scenario quietly.</summary>
internal static class ScenarioTestSupport
{
    /// <summary>The per-scenario limit in tests: generous, it only bounds a failure.</summary>
    public static readonly TimeSpan ScenarioTimeout = TimeSpan.FromSeconds(150);

    public static LabPrograms Programs { get; } = LabPrograms.Locate();

    /// <summary>The lanes the catalog's scenarios share in this test process, as many as the runner's default.</summary>
    public static ScenarioLanes Lanes { get; } = new(ScenarioLanes.DefaultCount);

    /// <summary>Runs <paramref name="scenario"/> with the built-in timings; the narration goes to <paramref name="narration"/>.</summary>
    public static Task<ScenarioResult> RunAsync(Scenario scenario, StringWriter narration, TimeSpan? timeout = null) =>
        new ScenarioRunner(Programs, ScenarioTimings.Load(null), timeout ?? ScenarioTimeout, TextWriter.Synchronized(narration)).RunAsync(scenario);
}
