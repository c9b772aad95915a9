using Lab.Scenarios;
using Lab.Scenarios.Harness;

namespace Lab.Tests.Scenarios;

public class ForeignProgramsTests
{
    private static readonly Dictionary<string, string> Values = new()
    {
        ["host"] = "127.0.0.1",
        ["port"] = "8001",
        ["registry_host"] = "::1",
        ["registry_port"] = "9999",
        ["config"] = "/tmp/x/config.ini",
        ["workdir"] = "/tmp/x/server-1",
        ["cwd"] = "/home/ta",
        ["mode"] = "",
    };

    [Test]
    public void Every_placeholder_is_filled()
    {
        var foreign = new ForeignPrograms(null, "{cwd}/server -l {host} -p {port} -r [{registry_host}]:{registry_port} -c {config} -d {workdir}", null);

        foreign.Expand(LabProgram.Server, Values).ShouldBe("/home/ta/server -l 127.0.0.1 -p 8001 -r [::1]:9999 -c /tmp/x/config.ini -d /tmp/x/server-1");
    }

    [Test]
    public void An_unknown_placeholder_is_an_error_naming_it_and_the_known_ones()
    {
        var foreign = new ForeignPrograms(null, null, "client --to {server}");

        var error = Should.Throw<ArgumentException>(() => foreign.Expand(LabProgram.Client, Values));

        error.Message.ShouldStartWith("the client command uses {server}; known placeholders: {host} {port}");
    }

    [Test]
    public void Braces_that_are_not_placeholders_pass_through()
    {
        var foreign = new ForeignPrograms("registry --json '{\"a\": 1}' -p {port}", null, null);

        foreign.Expand(LabProgram.Registry, Values).ShouldBe("registry --json '{\"a\": 1}' -p 8001");
    }

    [Slow]
    [Test]
    public async Task The_shell_execs_the_program_so_signals_reach_it_and_not_a_shell_in_between()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("reads /proc to see which program holds the process id: Linux only");
        }

        (string shell, string[] arguments) = ForeignPrograms.ShellCommand("sleep 600");
        await using var group = new ProcessGroup(Path.GetTempPath(), onLine: null);
        ManagedProcess process = group.Start("foreign", shell, arguments);
        // exec replaces the shell: the process the harness holds soon is "sleep" itself.
        await WaitUntilAsync(() => File.ReadAllText($"/proc/{process.Id}/comm").Trim() == "sleep", "the shell to exec sleep");

        int exitCode = await process.TerminateAsync(TestTimeouts.Unexpected);

        exitCode.ShouldBe(128 + 15, "sleep ends by SIGTERM itself");
    }

    [Test]
    public async Task A_scenario_that_cannot_grade_a_foreign_program_is_skipped_with_the_reason()
    {
        var scenario = new Scenario("reads-server-logs", "needs Lab.Server's log lines", "lab requirements §9", _ => throw new InvalidOperationException("must not run"))
        {
            Grades = [LabProgram.Registry],
        };
        using var narration = new StringWriter();
        var runner = new ScenarioRunner(ScenarioTestSupport.Programs, ScenarioTimings.Load(null), ScenarioTestSupport.ScenarioTimeout, narration,
            new ForeignPrograms("registry", "server", null));

        ScenarioResult result = await runner.RunAsync(scenario);

        result.Outcome.ShouldBe(ScenarioOutcome.Skip);
        result.Reason.ShouldBe("does not grade a foreign server: it runs none, or judges Lab.Server by its own log lines or command line");
        result.StartedProcessIds.ShouldBeEmpty();
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (!condition())
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), deadline.Token).ConfigureAwait(false);
        }
    }
}
