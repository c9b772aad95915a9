using System.Text.RegularExpressions;
using Lab.Scenarios;
using Lab.Scenarios.Harness;
using Lab.Scenarios.Network;

namespace Lab.Tests.Scenarios.Network;

/// <summary>
/// No namespace, cable or bridge outlives a scenario run: not after a FAIL, not after a scenario
/// timeout, not after Ctrl+C to the runner; and when the runner dies by kill -9 (nothing can run
/// then), the next start removes what it left. Cables and the bridge live inside the namespaces,
/// so "no namespace left" covers them. Needs root and iproute2, else ignored.
/// </summary>
[Slow]
public partial class NetworkTeardownTests
{
    [SetUp]
    public void RequireNamespaces()
    {
        if (LabNetwork.UnsupportedReason() is { } reason)
        {
            Assert.Ignore(reason);
        }
    }

    [Test]
    public async Task A_failing_network_scenario_leaves_no_namespace_and_no_process()
    {
        string[] built = [];
        var scenario = new Scenario("fails-on-a-network", "a check that fails", "lab requirements §9: nothing left behind", async context =>
        {
            LabNetwork network = await context.CreateNetworkAsync(["registry", "client"]);
            built = [network.BridgeNamespace, .. network.Hosts.Select(host => host.Namespace)];
            context.Config.Set("registry:host", network["registry"].Address);
            await context.StartRegistryAsync(onHost: network["registry"]);
            context.Check(false, "failing on purpose");
        }) { NeedsNetwork = true };
        using var narration = new StringWriter();

        ScenarioResult result = await ScenarioTestSupport.RunAsync(scenario, narration);

        result.Outcome.ShouldBe(ScenarioOutcome.Fail, narration.ToString());
        result.Reason.ShouldBe("failing on purpose");
        built.Length.ShouldBe(3);
        LabNetwork.ListOurNamespaces().Intersect(built).ShouldBeEmpty();
        result.StartedProcessIds.Where(ScenarioRunner.IsAlive).ShouldBeEmpty();
    }

    [Test]
    public async Task A_network_scenario_that_overruns_its_limit_leaves_no_namespace()
    {
        string[] built = [];
        var scenario = new Scenario("hangs-on-a-network", "a scenario that never ends", "lab requirements §9: nothing left behind", async context =>
        {
            LabNetwork network = await context.CreateNetworkAsync(["one"]);
            built = [network.BridgeNamespace, .. network.Hosts.Select(host => host.Namespace)];
            await new TaskCompletionSource().Task;
        }) { NeedsNetwork = true };
        using var narration = new StringWriter();

        ScenarioResult result = await ScenarioTestSupport.RunAsync(scenario, narration, timeout: TimeSpan.FromSeconds(5));

        result.Outcome.ShouldBe(ScenarioOutcome.Fail);
        result.Reason.ShouldBe("the scenario did not finish within its 5 s limit");
        built.Length.ShouldBe(2);
        LabNetwork.ListOurNamespaces().Intersect(built).ShouldBeEmpty();
    }

    [Test]
    public async Task Ctrl_C_of_the_runner_during_a_network_scenario_leaves_no_namespace()
    {
        string report = Path.Combine(Path.GetTempPath(), $"rpclab-interrupted-{Guid.NewGuid():N}.md");
        await using var group = new ProcessGroup(Path.GetTempPath(), onLine: null);
        ManagedProcess runner = group.Start("runner", ScenarioTestSupport.Programs.DotnetHost,
            [ProgramTests.RunnerDll, "registry-partitioned-from-servers", "--report", report]);
        try
        {
            await runner.WaitForLineAsync(RegistryStarted(), ScenarioContext.StartupTimeout);
            OwnedBy(runner.Id).ShouldNotBeEmpty();

            int exitCode = await runner.InterruptAsync(TestTimeouts.Unexpected);

            exitCode.ShouldBeGreaterThan(0);
            runner.Lines.ShouldContain(line => line.Text.Contains("interrupted"));
            OwnedBy(runner.Id).ShouldBeEmpty();
        }
        finally
        {
            File.Delete(report);
            File.Delete(Path.ChangeExtension(report, ".json"));
        }
    }

    [Test]
    public async Task Namespaces_of_a_runner_killed_with_kill_9_are_removed_at_the_next_start()
    {
        // kill -9 leaves the scenario's work folder too: the runner gets a temp folder of this test's own, deleted at the end.
        DirectoryInfo temp = Directory.CreateTempSubdirectory("rpclab-killed-runner-");
        await using var group = new ProcessGroup(temp.FullName, onLine: null);
        ManagedProcess runner = group.Start("runner", ScenarioTestSupport.Programs.DotnetHost, [ProgramTests.RunnerDll, "multi-host-ipv6", "--report", Path.Combine(temp.FullName, "report.md")],
            environment: new Dictionary<string, string> { ["TMPDIR"] = temp.FullName });
        try
        {
            await KillMidScenarioAndStartAnotherNetworkAsync(runner);
        }
        finally
        {
            await group.DisposeAsync();
            temp.Delete(recursive: true);
        }
    }

    private static async Task KillMidScenarioAndStartAnotherNetworkAsync(ManagedProcess runner)
    {
        await runner.WaitForLineAsync(RegistryStarted(), ScenarioContext.StartupTimeout);
        string[] left = [.. OwnedBy(runner.Id)];
        left.ShouldNotBeEmpty();

        runner.KillHard();
        await runner.WaitForExitAsync(TestTimeouts.Unexpected);
        OwnedBy(runner.Id).ShouldBe(left, "kill -9 gives the runner no chance to clean up");

        using LabNetwork next = await LabNetwork.CreateAsync(["next"]);

        left.ShouldBeSubsetOf(next.RemovedLeftovers);
        OwnedBy(runner.Id).ShouldBeEmpty();
    }

    private static IReadOnlyList<string> OwnedBy(int pid) => [.. LabNetwork.ListOurNamespaces().Where(name => LabNetwork.OwnerPid(name) == pid)];

    [GeneratedRegex(@"started registry \(pid \d+\) on registry")]
    private static partial Regex RegistryStarted();
}
