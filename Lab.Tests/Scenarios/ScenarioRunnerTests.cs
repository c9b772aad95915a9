using System.Text.RegularExpressions;
using Lab.Scenarios;
using Lab.Scenarios.Harness;

namespace Lab.Tests.Scenarios;

/// <summary>
/// The runner's promise: no process outlives a scenario — not after a FAIL, not after the scenario
/// overran its limit, not after an unexpected exception. The "sleep-ish" child is the real registry
/// program, started through the same process tracking the scenarios use; it would run forever.
/// </summary>
[Slow]
public class ScenarioRunnerTests
{
    [Test]
    public async Task Failing_scenario_reports_FAIL_with_its_reason_and_leaves_no_process()
    {
        var scenario = new Scenario("fails-on-purpose", "a check that fails", "lab requirements §9: no process left behind", async context =>
        {
            await StartLongRunningChildAsync(context);
            context.Check(false, "failing on purpose");
        });
        using var narration = new StringWriter();

        ScenarioResult result = await ScenarioTestSupport.RunAsync(scenario, narration);

        result.Outcome.ShouldBe(ScenarioOutcome.Fail);
        result.Reason.ShouldBe("failing on purpose");
        result.StartedProcessIds.Count.ShouldBe(1);
        result.StartedProcessIds.Where(ScenarioRunner.IsAlive).ShouldBeEmpty();
        narration.ToString().ShouldContain("no process left behind (1 started, all gone)");
    }

    [Test]
    public async Task Scenario_that_overruns_its_limit_is_stopped_and_leaves_no_process()
    {
        var scenario = new Scenario("hangs-on-purpose", "a scenario that never ends", "lab requirements §9: no process left behind", async context =>
        {
            await StartLongRunningChildAsync(context);
            // Ignores every token: the runner must not rely on the scenario cooperating.
            await new TaskCompletionSource().Task;
        });
        using var narration = new StringWriter();

        ScenarioResult result = await ScenarioTestSupport.RunAsync(scenario, narration, timeout: TimeSpan.FromSeconds(3));

        result.Outcome.ShouldBe(ScenarioOutcome.Fail);
        result.Reason.ShouldBe("the scenario did not finish within its 3 s limit");
        result.StartedProcessIds.Count.ShouldBe(1);
        result.StartedProcessIds.Where(ScenarioRunner.IsAlive).ShouldBeEmpty();
    }

    [Test]
    public async Task Scenario_that_throws_unexpectedly_reports_FAIL_and_leaves_no_process()
    {
        var scenario = new Scenario("throws-on-purpose", "an unexpected exception", "lab requirements §9: no process left behind", async context =>
        {
            await StartLongRunningChildAsync(context);
            throw new InvalidOperationException("boom");
        });
        using var narration = new StringWriter();

        ScenarioResult result = await ScenarioTestSupport.RunAsync(scenario, narration);

        result.Outcome.ShouldBe(ScenarioOutcome.Fail);
        result.Reason.ShouldBe("InvalidOperationException: boom");
        result.StartedProcessIds.Where(ScenarioRunner.IsAlive).ShouldBeEmpty();
    }

    [Test]
    public async Task Waiting_for_a_line_fails_at_once_when_the_process_dies_without_printing_it()
    {
        var scenario = new Scenario("dies-while-awaited", "a wait that cannot succeed", "lab requirements §9: waits end on events", async context =>
        {
            ManagedProcess child = await StartLongRunningChildAsync(context);
            Task<OutputLine> wait = child.WaitForLineAsync(new Regex("a line no program prints"), ScenarioContext.Unexpected);
            child.KillHard();
            await wait;
        });
        using var narration = new StringWriter();

        ScenarioResult result = await ScenarioTestSupport.RunAsync(scenario, narration);

        result.Outcome.ShouldBe(ScenarioOutcome.Fail);
        result.Reason.ShouldNotBeNull().ShouldContain("without printing a line matching /a line no program prints/");
        result.Duration.ShouldBeLessThan(ScenarioContext.Unexpected);
    }

    private static async Task<ManagedProcess> StartLongRunningChildAsync(ScenarioContext context)
    {
        ManagedProcess child = context.Start(LabProgram.Registry, "registry", ["-l", "127.0.0.1", "-p", "0"]);
        await child.WaitForLineAsync(new Regex("."), ScenarioContext.StartupTimeout);
        ScenarioRunner.IsAlive(child.Id).ShouldBeTrue();
        return child;
    }
}
