using Lab.Scenarios;
using Lab.Scenarios.Network;

namespace Lab.Tests.Scenarios;

/// <summary>
/// Every scenario of the catalog, run for real (registry, servers and clients as processes), so the
/// README's test command proves them all. One test case per scenario; a failure shows its narration.
/// </summary>
/// <remarks>
/// The cases run side by side as the runner's <c>--parallel</c> runs them: each holds a lane of the
/// test process's <see cref="ScenarioTestSupport.Lanes"/> while it runs, in the runner's lane order
/// (the long ones first), and each scenario is isolated (its own ports, folder, namespaces, processes).
/// </remarks>
[Slow]
[Parallelizable(ParallelScope.All)]
public class ScenarioCatalogTests
{
    public static IEnumerable<TestCaseData> Scenarios =>
        ScenarioLanes.LaneOrder(ScenarioCatalog.All).Select(scenario => new TestCaseData(scenario.Name).SetName($"Scenario_{scenario.Name.Replace('-', '_')}_passes"));

    [TestCaseSource(nameof(Scenarios))]
    public async Task Scenario_passes_and_leaves_no_process_behind(string name)
    {
        // Shared with the documentation's test, which shows some of these narrations.
        (ScenarioResult result, string narration) = await ScenarioTestSupport.RunOnceAsync(name);

        await TestContext.Out.WriteLineAsync(narration);
        if (result.Outcome == ScenarioOutcome.Skip)
        {
            Assert.Ignore(result.Reason ?? "skipped on this OS");
        }

        result.Outcome.ShouldBe(ScenarioOutcome.Pass, $"{result.Verdict}\n{narration}");
        result.StartedProcessIds.Where(ScenarioRunner.IsAlive).ShouldBeEmpty();
        result.Namespaces.Where(LabNetwork.Exists).ShouldBeEmpty("no namespace of this scenario is left");
    }

    [Test]
    public void Scenario_names_are_unique_and_each_names_its_requirement()
    {
        ScenarioCatalog.All.Select(scenario => scenario.Name).ShouldBeUnique();
        ScenarioCatalog.All.ShouldAllBe(scenario => scenario.Requirement.StartsWith("lab requirements §") && scenario.Demonstrates.Length > 0);
    }

    [Test]
    public void Catalog_covers_every_case_the_lab_asks_for()
    {
        string[] required =
        [
            "happy-path", "direct-mode", "discovery", "error-replies", "ten-concurrent-clients", "hundred-connections",
            "client-killed-mid-call", "registry-down-at-server-start", "registry-crash-restart", "server-killed-failover",
            "graceful-stop", "shutdown-registry-up-service-up", "shutdown-registry-down-service-up",
            "shutdown-registry-up-service-broken", "shutdown-registry-down-service-broken", "timeout-client-connect",
            "timeout-client-write", "timeout-client-wait", "timeout-client-read", "timeout-server-read",
            "timeout-server-write", "timeout-method", "timeout-blocking-method", "large-message", "bad-input-server", "bad-input-registry",
            "no-server-available", "multi-host-happy-path", "multi-host-ten-clients", "host-unplugged-failover",
            "registry-partitioned-from-clients", "registry-partitioned-from-servers", "clients-cut-from-one-server", "multi-host-ipv6",
        ];

        required.Where(name => ScenarioCatalog.Find(name) is null).ShouldBeEmpty();
    }
}
