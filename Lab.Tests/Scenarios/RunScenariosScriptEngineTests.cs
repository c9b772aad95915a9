using System.Management.Automation.Language;
using Lab.Scenarios;

namespace Lab.Tests.Scenarios;

/// <summary>
/// run-scenarios.ps1 as a teaching assistant runs it: executed by the real PowerShell engine
/// (see <see cref="PowerShellScript"/>), which builds the programs and starts the runner as native
/// commands. Also: the script uses only syntax that Windows PowerShell 5.1 accepts, because a
/// classroom's Windows machine may have nothing newer.
/// </summary>
[Slow]
public class RunScenariosScriptEngineTests
{
    // A run with the build step starts with `dotnet build` of the runner (up to date here, but slow on
    // a loaded machine); the others pass -NoBuild, since the test run has just built everything.
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(4);

    [Test]
    public async Task List_prints_every_scenario_and_exits_0()
    {
        PowerShellScript.ScriptRun run = await PowerShellScript.RunAsync(["-List", "-NoBuild"], ScriptTimeout);

        run.ExitCode.ShouldBe(0, run.Text);
        foreach (Scenario scenario in ScenarioCatalog.All)
        {
            run.Lines.ShouldContain(line => line.StartsWith(scenario.Name + " ", StringComparison.Ordinal), run.Text);
        }
    }

    [Test]
    public async Task Unknown_scenario_exits_with_the_usage_error_code_and_names_it()
    {
        PowerShellScript.ScriptRun run = await PowerShellScript.RunAsync(["no-such-scenario", "-NoBuild"], ScriptTimeout);

        run.ExitCode.ShouldBe(2, run.Text);
        run.Text.ShouldContain("unknown scenario no-such-scenario");
    }

    [Test]
    public async Task One_scenario_with_Report_passes_writes_both_report_files_and_prints_plain_text()
    {
        string folder = Directory.CreateTempSubdirectory("rpclab-ps-report-").FullName;
        try
        {
            string report = Path.Combine(folder, "run1.md");

            PowerShellScript.ScriptRun run = await PowerShellScript.RunAsync(["happy-path", "-Report", report], ScriptTimeout);

            run.ExitCode.ShouldBe(0, run.Text);
            run.Lines.ShouldContain(line => line.StartsWith("[1/1] happy-path  elapsed 0:", StringComparison.Ordinal), run.Text);
            run.Lines.ShouldContain("=== happy-path ===");
            run.Lines.ShouldContain(line => line.StartsWith("PASS", StringComparison.Ordinal), run.Text);
            run.Lines.ShouldContain(line => line.StartsWith("1 passed, 0 failed, 0 skipped in ", StringComparison.Ordinal), run.Text);
            // The engine captures the runner's output (redirected), so the colour codes of a terminal must not appear.
            run.Text.ShouldNotContain("\u001b[");
            File.ReadAllText(report).ShouldContain("happy-path");
            File.ReadAllText(Path.ChangeExtension(report, ".json")).ShouldContain("\"happy-path\"");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public async Task ServerCommand_grades_another_implementations_server()
    {
        // The Python peer's server stands in for a student's; PythonPeer.Start skips the test without python3.
        await using Interop.PythonPeer peer = Interop.PythonPeer.Start();
        string server = Path.Combine(Interop.PythonPeer.ScriptDirectory, "lab_server.py");

        PowerShellScript.ScriptRun run = await PowerShellScript.RunAsync(
            ["discovery", "-NoBuild", "-ServerCommand", $"python3 \"{server}\" -l {{host}} -p {{port}} -c {{config}}", "-Report", Path.Combine(peer.Directory, "report.md")],
            ScriptTimeout);

        run.ExitCode.ShouldBe(0, run.Text);
        run.Text.ShouldContain("foreign server): python3");
        run.Lines.ShouldContain(line => line.StartsWith("1 passed, 0 failed, 0 skipped in ", StringComparison.Ordinal), run.Text);
    }

    [Test]
    public void Script_uses_only_syntax_Windows_PowerShell_5_1_accepts()
    {
        ScriptBlockAst script = Parser.ParseFile(PowerShellScript.ScriptPath, out _, out ParseError[] errors);

        errors.ShouldBeEmpty();
        PowerShellScript.NewerThanPowerShell51(script).ShouldBeEmpty();
    }

    [Test]
    public void Syntax_check_finds_each_construct_newer_than_5_1()
    {
        // Proof the check above can fail: one line per construct Windows PowerShell 5.1 rejects.
        ScriptBlockAst sample = Parser.ParseInput("""
            $a = $b ? 1 : 2
            $c = $d ?? 3
            $e ??= 4
            git status && git log
            git status || exit 1
            ${f}?.Length
            1..3 | ForEach-Object -Parallel { $_ }
            """, out _, out ParseError[] errors);

        errors.ShouldBeEmpty();
        PowerShellScript.NewerThanPowerShell51(sample).Select(found => found.Split(':')[0]).ShouldBe(
            ["line 1", "line 2", "line 3", "line 4", "line 5", "line 6", "line 7"], ignoreOrder: true);
    }
}
