using System.Globalization;
using System.Text.RegularExpressions;
using Lab.Scenarios;
using Lab.Scenarios.Harness;

namespace Lab.Tests.Scenarios;

/// <summary>The runner as a teaching assistant uses it: a real process, with its flags, exit code and Ctrl+C.</summary>
[Slow]
public partial class ProgramTests
{
    internal static string RunnerDll => Path.Combine(ScenarioTestSupport.Programs.RepositoryRoot, "Lab.Scenarios", "bin", ScenarioTestSupport.Programs.Configuration, "net10.0", "Lab.Scenarios.dll");

    [Test]
    public async Task List_prints_every_scenario_name_first_on_its_line()
    {
        await using var group = new ProcessGroup(Path.GetTempPath(), onLine: null);
        ManagedProcess runner = group.Start("runner", ScenarioTestSupport.Programs.DotnetHost, [RunnerDll, "--list"]);

        int exitCode = await runner.WaitForExitAsync(TestTimeouts.Unexpected);

        exitCode.ShouldBe(0);
        // Lines that start with a space say why a scenario cannot grade a kind of foreign program.
        string[] firstWords = [.. runner.Lines.Where(line => !line.Text.StartsWith(' ')).Select(line => line.Text.Split(' ')[0])];
        firstWords.ShouldBe(ScenarioCatalog.All.Select(scenario => scenario.Name));
    }

    [Test]
    public async Task List_marks_which_foreign_programs_each_scenario_grades()
    {
        await using var group = new ProcessGroup(Path.GetTempPath(), onLine: null);
        ManagedProcess runner = group.Start("runner", ScenarioTestSupport.Programs.DotnetHost, [RunnerDll, "--list"]);

        (await runner.WaitForExitAsync(TestTimeouts.Unexpected)).ShouldBe(0);

        Dictionary<string, string> grades = runner.Lines.Where(line => !line.Text.StartsWith(' ')).Select(line => line.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToDictionary(words => words[0], words => words[1]);
        grades["happy-path"].ShouldBe("RSC");
        grades["bad-input-registry"].ShouldBe("R--");
        grades["timeout-method"].ShouldBe("---");
        string[] timeoutMethod = [.. runner.Lines.SkipWhile(line => !line.Text.StartsWith("timeout-method ", StringComparison.Ordinal)).Skip(1)
            .TakeWhile(line => line.Text.StartsWith(' ')).Select(line => line.Text.Trim())];
        timeoutMethod.ShouldContain("- -  not a foreign registry or client: it runs none, or judges ours by its own log lines or command line");
        timeoutMethod.ShouldContain(line => line.StartsWith("-   not a foreign server: it needs a method that runs longer than method_timeout", StringComparison.Ordinal));
    }

    [Test]
    public async Task Unknown_scenario_name_is_a_usage_error()
    {
        await using var group = new ProcessGroup(Path.GetTempPath(), onLine: null);
        ManagedProcess runner = group.Start("runner", ScenarioTestSupport.Programs.DotnetHost, [RunnerDll, "no-such-scenario"]);

        int exitCode = await runner.WaitForExitAsync(TestTimeouts.Unexpected);

        exitCode.ShouldBe(2);
        runner.Lines.ShouldContain(line => line.IsError && line.Text.Contains("unknown scenario no-such-scenario"));
    }

    [TestCase("SIGINT", TestName = "Ctrl_C_of_the_runner_kills_every_process_it_started")]
    [TestCase("SIGTERM", TestName = "SIGTERM_of_the_runner_kills_every_process_it_started")]
    public async Task Stopping_the_runner_kills_every_process_it_started(string signal)
    {
        if (!ProcessSignals.AreSupported)
        {
            Assert.Ignore("sending Ctrl+C to another process needs POSIX signals");
        }

        string report = Path.Combine(Path.GetTempPath(), $"rpclab-interrupted-{Guid.NewGuid():N}.md");
        await using var group = new ProcessGroup(Path.GetTempPath(), onLine: null);
        ManagedProcess runner = group.Start("runner", ScenarioTestSupport.Programs.DotnetHost, [RunnerDll, "happy-path", "--report", report]);
        try
        {
            OutputLine started = await runner.WaitForLineAsync(StartedPid(), ScenarioContext.StartupTimeout);
            int childId = int.Parse(StartedPid().Match(started.Text).Groups[1].Value, CultureInfo.InvariantCulture);
            ScenarioRunner.IsAlive(childId).ShouldBeTrue();

            int exitCode = signal == "SIGINT"
                ? await runner.InterruptAsync(TestTimeouts.Unexpected)
                : await runner.TerminateAsync(TestTimeouts.Unexpected);

            exitCode.ShouldBeGreaterThan(0);
            int[] children = [.. runner.Lines.Select(line => StartedPid().Match(line.Text)).Where(match => match.Success)
                .Select(match => int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture))];
            children.Where(ScenarioRunner.IsAlive).ShouldBeEmpty();
            runner.Lines.ShouldContain(line => line.Text.Contains("interrupted"));
        }
        finally
        {
            File.Delete(report);
            File.Delete(Path.ChangeExtension(report, ".json"));
        }
    }

    [Test]
    public async Task A_runner_started_in_the_background_still_stops_its_programs_with_Ctrl_C()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("whether a process ignores SIGINT is read from /proc, which only Linux has");
        }

        // `runner &` in a script (or nohup) starts it with SIGINT ignored, and its children inherited that:
        // graceful-stop's server shrugged off its Ctrl+C, and every load client its stop. The shell's
        // `trap '' INT` ignores it the same way, then execs the runner in its place.
        string report = Path.Combine(Path.GetTempPath(), $"rpclab-background-{Guid.NewGuid():N}.md");
        await using var group = new ProcessGroup(Path.GetTempPath(), onLine: null);
        ManagedProcess runner = group.Start("runner", "sh", ["-c", "trap '' INT; exec \"$0\" \"$@\"", ScenarioTestSupport.Programs.DotnetHost, RunnerDll, "graceful-stop", "--report", report]);
        try
        {
            int exitCode = await runner.WaitForExitAsync(ScenarioTestSupport.ScenarioTimeout);

            exitCode.ShouldBe(0, string.Join('\n', runner.Lines.Select(line => line.Text)));
            runner.Lines.ShouldContain(line => line.Text.StartsWith("1 passed, 0 failed", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(report);
            File.Delete(Path.ChangeExtension(report, ".json"));
        }
    }

    [GeneratedRegex(@"started \S+ \(pid (\d+)\)")]
    private static partial Regex StartedPid();
}
