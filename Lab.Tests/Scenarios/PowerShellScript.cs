using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using Lab.Scenarios.Harness;

namespace Lab.Tests.Scenarios;

/// <summary>
/// Runs run-scenarios.ps1 in the real PowerShell engine, hosted in this test process (the
/// Microsoft.PowerShell.SDK package): the same parser, cmdlets, native-command handling and
/// <c>$LASTEXITCODE</c> that a teaching assistant's <c>pwsh</c> uses, with no pwsh installed.
/// </summary>
/// <example>
/// <code>
/// ScriptRun run = await PowerShellScript.RunAsync(["-List"], TimeSpan.FromMinutes(3));
/// run.ExitCode.ShouldBe(0);
/// </code>
/// </example>
internal static class PowerShellScript
{
    public static string ScriptPath => Path.Combine(LabPrograms.Locate().RepositoryRoot, "run-scenarios.ps1");

    /// <summary>One finished run: every line the script and its native commands wrote, and its exit code.</summary>
    public sealed record ScriptRun(IReadOnlyList<string> Lines, int ExitCode)
    {
        public string Text => string.Join('\n', Lines);
    }

    /// <summary>
    /// Invokes the script with <paramref name="arguments"/> and waits for it, at most <paramref name="timeout"/>.
    /// </summary>
    /// <exception cref="TimeoutException">The script did not end in time; it is stopped first (its native commands too).</exception>
    public static async Task<ScriptRun> RunAsync(IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        using Runspace runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        runspace.Open();
        using PowerShell shell = PowerShell.Create(runspace);
        // '*>&1' merges every stream (the script's Write-Host, dotnet's stdout and stderr) into one
        // pipeline in the order written; piping also makes PowerShell capture the native commands'
        // output instead of handing them a console. The script's `exit N` sets $LASTEXITCODE here.
        // The command line is typed as a teaching assistant would (-List is a switch, not a string), with
        // '*>&1' merging every stream (the script's Write-Host, dotnet's stdout and stderr) into one
        // pipeline in the order written; piping also makes PowerShell capture the native commands'
        // output instead of handing them a console. The script's `exit N` sets $LASTEXITCODE here.
        string commandLine = string.Join(' ', arguments.Select(argument =>
            argument.StartsWith('-') && argument.Skip(1).All(char.IsAsciiLetter) ? argument : $"'{argument.Replace("'", "''", StringComparison.Ordinal)}'"));
        shell.AddScript($$"""
            & '{{ScriptPath.Replace("'", "''", StringComparison.Ordinal)}}' {{commandLine}} *>&1 | ForEach-Object { "$_" }
            "exit-code=$LASTEXITCODE"
            """);

        Task<PSDataCollection<PSObject>> invocation = shell.InvokeAsync();
        if (await Task.WhenAny(invocation, Task.Delay(timeout)) != invocation)
        {
            await shell.StopAsync(callback: null, state: null);
            throw new TimeoutException($"run-scenarios.ps1 {string.Join(' ', arguments)} did not finish within {timeout.TotalSeconds:0} s");
        }

        string[] lines = [.. (await invocation).Select(item => item?.ToString() ?? "")
            .SelectMany(item => item.Split('\n')).Select(line => line.TrimEnd('\r'))];
        lines.ShouldNotBeEmpty();
        lines[^1].ShouldStartWith("exit-code=", customMessage: "the wrapper's last line is the exit code");
        int exitCode = int.Parse(lines[^1]["exit-code=".Length..], CultureInfo.InvariantCulture);
        return new ScriptRun(lines[..^1], exitCode);
    }

    /// <summary>"line N: construct" for every PowerShell 6/7-only construct in <paramref name="script"/>.</summary>
    public static IEnumerable<string> NewerThanPowerShell51(ScriptBlockAst script)
    {
        static string? Construct(Ast ast) => ast switch
        {
            TernaryExpressionAst => "ternary operator ?:",
            BinaryExpressionAst { Operator: TokenKind.QuestionQuestion } => "null-coalescing ??",
            AssignmentStatementAst { Operator: TokenKind.QuestionQuestionEquals } => "null-coalescing assignment ??=",
            PipelineChainAst => "pipeline chain && or ||",
            MemberExpressionAst { NullConditional: true } => "null-conditional ?. or ?[]",
            IndexExpressionAst { NullConditional: true } => "null-conditional ?[]",
            // -Parallel is 7-only on ForEach-Object; another command's own -Parallel (run-scenarios.ps1's) is fine.
            CommandParameterAst { ParameterName: var name, Parent: CommandAst command }
                when name.Equals("Parallel", StringComparison.OrdinalIgnoreCase)
                     && command.GetCommandName() is { } verb && (verb.Equals("ForEach-Object", StringComparison.OrdinalIgnoreCase) || verb is "foreach" or "%")
                => "ForEach-Object -Parallel",
            ScriptBlockAst { CleanBlock: not null } => "clean block",
            _ => null,
        };

        return script.FindAll(ast => Construct(ast) is not null, searchNestedScriptBlocks: true)
            .Select(ast => $"line {ast.Extent.StartLineNumber}: {Construct(ast)}");
    }
}
