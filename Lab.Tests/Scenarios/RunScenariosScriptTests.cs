using System.Management.Automation.Language;
using Lab.Scenarios.Harness;

namespace Lab.Tests.Scenarios;

/// <summary>
/// run-scenarios.ps1 is what a teaching assistant runs; PowerShell may not be installed where the
/// tests run, so the script is checked with PowerShell's own parser instead of being executed.
/// </summary>
public class RunScenariosScriptTests
{
    private static string ScriptPath => Path.Combine(LabPrograms.Locate().RepositoryRoot, "run-scenarios.ps1");

    [Test]
    public void Script_parses_without_syntax_errors()
    {
        Parser.ParseFile(ScriptPath, out _, out ParseError[] errors);

        errors.Select(error => $"line {error.Extent.StartLineNumber}: {error.Message}").ShouldBeEmpty();
    }

    [Test]
    public void Script_param_block_offers_names_list_config_report_rubric_and_foreign_commands()
    {
        ScriptBlockAst script = Parser.ParseFile(ScriptPath, out _, out _);

        string[] parameters = [.. script.ParamBlock.Parameters.Select(parameter => parameter.Name.VariablePath.UserPath)];
        parameters.ShouldBe(["Scenario", "List", "Config", "Report", "Timeout", "Parallel", "Rubric", "RegistryCommand", "ServerCommand", "ClientCommand", "Configuration", "NoBuild"], ignoreOrder: true);
    }

    [Test]
    public void Script_returns_the_runner_exit_code()
    {
        ScriptBlockAst script = Parser.ParseFile(ScriptPath, out _, out _);

        // The last statement is what makes the wrapper's exit code the number of failed scenarios.
        script.EndBlock.Statements[^1].Extent.Text.ShouldBe("exit $LASTEXITCODE");
    }

    [Slow]
    [Test]
    public async Task Every_flag_the_script_passes_is_one_the_runner_accepts()
    {
        ScriptBlockAst script = Parser.ParseFile(ScriptPath, out _, out _);
        string[] flags = [.. script.FindAll(ast => ast is StringConstantExpressionAst { Value: ['-', '-', ..] }, searchNestedScriptBlocks: true)
            .Cast<StringConstantExpressionAst>().Select(constant => constant.Value)
            .Where(flag => !flag.StartsWith("--configuration", StringComparison.Ordinal) && !flag.StartsWith("--nologo", StringComparison.Ordinal) && !flag.StartsWith("--verbosity", StringComparison.Ordinal))
            .Distinct()];
        await using var group = new ProcessGroup(Path.GetTempPath(), onLine: null);
        ManagedProcess runner = group.Start("runner", ScenarioTestSupport.Programs.DotnetHost, [ProgramTests.RunnerDll, "--help"]);
        await runner.WaitForExitAsync(TestTimeouts.Unexpected);
        string help = string.Join('\n', runner.Lines.Select(line => line.Text));

        flags.ShouldBe(["--list", "--config", "--report", "--timeout", "--parallel", "--rubric", "--registry-command", "--server-command", "--client-command"], ignoreOrder: true);
        flags.Where(flag => !help.Contains(flag + " ", StringComparison.Ordinal)).ShouldBeEmpty();
    }

    [Test]
    public void Parser_check_catches_a_broken_script()
    {
        // Proof that the first test can fail: an unclosed block is a syntax error.
        Parser.ParseInput("param([string] $Name)\nif ($Name) {\n  Write-Host $Name\n", out _, out ParseError[] errors);

        errors.ShouldNotBeEmpty();
    }
}
