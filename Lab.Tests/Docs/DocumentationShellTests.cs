using System.Diagnostics;
using System.Management.Automation.Language;
using Lab.Tests.Scenarios;
using Lab.Tests.Support;

namespace Lab.Tests.Docs;

/// <summary>
/// Every command of the pages works on Windows too. The rule the pages follow (stated in
/// docs/README.md): a <c>```shell</c> block runs unchanged in bash and in PowerShell; a <c>```bash</c>
/// block is followed by its <c>```powershell</c> twin. These tests hold the pages to it: every bash
/// block has a twin, every PowerShell block parses with the real PowerShell parser and uses only
/// syntax Windows PowerShell 5.1 accepts, and every shell block parses in both shells. The twins
/// that need no Windows run against real programs in <see cref="ExecutedDocumentationTests"/>.
/// </summary>
[TestFixture]
public sealed partial class DocumentationShellTests
{
    [Test]
    public void Every_bash_block_is_followed_by_its_PowerShell_twin()
    {
        List<string> missing = [];
        int twins = 0;
        foreach (MarkdownPage page in Pages())
        {
            for (int index = 0; index < page.Fences.Count; index++)
            {
                if (page.Fences[index].Info != "bash")
                {
                    continue;
                }

                // The twin is the next block of commands; the bash command's output may come between.
                CodeFence? next = page.Fences.Skip(index + 1).FirstOrDefault(fence => fence.Info != "text");
                if (next?.Info == "powershell")
                {
                    twins++;
                }
                else
                {
                    missing.Add($"{page.RelativePath}:{page.Fences[index].LineNumber}: a bash block whose next block of commands is not its powershell twin");
                }
            }
        }

        missing.ShouldBeEmpty();
        TestContext.Out.WriteLine($"{twins} bash blocks, each with its PowerShell twin");
        twins.ShouldBeGreaterThan(10);
    }

    [Test]
    public void Every_PowerShell_block_parses_and_runs_on_Windows_PowerShell_5_1()
    {
        // Parameters only PowerShell 7 has are allowed where the page says so (Invoke-RestMethod's
        // -SkipHttpErrorCheck, with a note on what to do in 5.1); syntax 5.1 cannot parse is not.
        List<string> problems = [];
        int blocks = 0;
        foreach ((MarkdownPage page, CodeFence fence) in Fences("powershell"))
        {
            blocks++;
            ScriptBlockAst script = Parser.ParseInput(string.Join('\n', fence.Content), out _, out ParseError[] errors);
            problems.AddRange(errors.Select(error => $"{page.RelativePath}:{fence.LineNumber + error.Extent.StartLineNumber}: {error.Message}"));
            problems.AddRange(PowerShellScript.NewerThanPowerShell51(script).Select(found => $"{page.RelativePath}:{fence.LineNumber}: {found}"));
        }

        problems.ShouldBeEmpty();
        blocks.ShouldBeGreaterThan(10);
    }

    [Test]
    [Slow] // one bash process per block
    public async Task Every_shell_block_parses_in_bash_and_in_PowerShell()
    {
        List<string> problems = [];
        int blocks = 0;
        foreach ((MarkdownPage page, CodeFence fence) in Fences("shell"))
        {
            blocks++;
            string text = string.Join('\n', fence.Content);
            problems.AddRange(PowerShellProblems(text).Select(problem => $"{page.RelativePath}:{fence.LineNumber}: {problem}"));
            if (!OperatingSystem.IsWindows() && await BashSyntaxErrorAsync(text) is { } bashError)
            {
                problems.Add($"{page.RelativePath}:{fence.LineNumber}: bash: {bashError}");
            }
        }

        problems.ShouldBeEmpty();
        blocks.ShouldBeGreaterThan(10);
    }

    [TestCase("RPCLAB_LOGGING__LEVEL=debug dotnet run --project Lab.Server -- -p 8089", "sets a variable the bash way")]
    [TestCase("dotnet build && dotnet test", "pipeline chain")]
    [TestCase("dotnet run --project Lab.Server -- -p (", "PowerShell: ")]
    public void The_shell_block_check_finds_what_only_bash_understands(string line, string problem) =>
        PowerShellProblems(line).ShouldContain(found => found.Contains(problem, StringComparison.Ordinal));

    // What keeps a block from running unchanged in PowerShell 5.1: a parse error, newer syntax, or a
    // bash-style "NAME=value command" (PowerShell would take NAME=value for a command name).
    private static IEnumerable<string> PowerShellProblems(string text)
    {
        ScriptBlockAst script = Parser.ParseInput(text, out _, out ParseError[] errors);
        foreach (ParseError error in errors)
        {
            yield return $"PowerShell: {error.Message}";
        }

        foreach (string found in PowerShellScript.NewerThanPowerShell51(script))
        {
            yield return found;
        }

        foreach (string line in text.Split('\n').Where(line => EnvironmentPrefix().IsMatch(line)))
        {
            yield return $"sets a variable the bash way: {line.Trim()}";
        }
    }

    private static IEnumerable<MarkdownPage> Pages()
    {
        string root = DocumentationFiles.RepositoryRoot();
        return DocumentationFiles.MarkdownFiles(root).Select(path => MarkdownPage.Load(root, path));
    }

    private static IEnumerable<(MarkdownPage Page, CodeFence Fence)> Fences(string info) =>
        Pages().SelectMany(page => page.Fences.Where(fence => fence.Info == info).Select(fence => (page, fence)));

    private static async Task<string?> BashSyntaxErrorAsync(string script)
    {
        using var bash = Process.Start(new ProcessStartInfo("bash", ["-n"])
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        await bash.StandardInput.WriteAsync(script);
        bash.StandardInput.Close();
        string error = await bash.StandardError.ReadToEndAsync();
        await bash.WaitForExitAsync();
        return bash.ExitCode == 0 ? null : error.Trim();
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\s*[A-Za-z_][A-Za-z0-9_]*=\S*\s+\S")]
    private static partial System.Text.RegularExpressions.Regex EnvironmentPrefix();
}
