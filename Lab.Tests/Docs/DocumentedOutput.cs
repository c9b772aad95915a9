namespace Lab.Tests.Docs;

/// <summary>
/// A block of program output in the docs and how to produce it again, read from the HTML comment
/// just before the block:
/// <code>
/// &lt;!-- output
/// run: dotnet run --project Lab.ClientApp -- add 1 2
/// setup: registry, server 8089, server 8090
/// --&gt;
/// </code>
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>run:</c> a command as the page shows it, run from the repository's root in bash (several: their
/// outputs one after the other). Each must appear, word for word, in a code block of the page above the output.</item>
/// <item><c>powershell:</c> the PowerShell twin of the commands, run by the PowerShell engine; it must print the same block.</item>
/// <item><c>setup:</c> programs running meanwhile: <c>registry</c> (the page's port 9999), <c>server 8089</c>,
/// <c>server 8090 -l ::</c>. Blocks with the same setup share one set of programs, in page order.</item>
/// <item><c>world:</c> a name that keeps this block's programs apart from other blocks with the same setup
/// (for commands that change the registry's list).</item>
/// <item><c>log: registry</c> or <c>log: server 8089</c>: the block shows what that setup program printed while the commands ran.</item>
/// <item><c>scenario:</c> the block shows part of that scenario's narration, from the run the scenario tests share.</item>
/// <item><c>varies: numbers</c>: every number of the block is a measurement (calls per second, latencies).
/// <c>varies: order</c>: the lines come from several programs at once, so their order is the scheduler's
/// (always so for a scenario's narration). Both: <c>varies: numbers, order</c>.</item>
/// </list>
/// A block that is program output but cannot be produced here says why instead: <c>&lt;!-- output not checked: reason --&gt;</c>.
/// A text block that is not output at all (a drawing) says so: <c>&lt;!-- figure: ... --&gt;</c>.
/// </remarks>
internal sealed record DocumentedOutput(
    MarkdownPage Page,
    CodeFence Fence,
    IReadOnlyList<string> Run,
    IReadOnlyList<string> PowerShell,
    string Setup,
    string World,
    string? Log,
    string? Scenario,
    bool VaryingNumbers,
    bool AnyOrder = false)
{
    /// <summary>"docs/03-server.md:42", where the block's opening fence is.</summary>
    public string Location => $"{Page.RelativePath}:{Fence.LineNumber}";

    /// <summary>What produces the block, for messages: its commands, or its scenario.</summary>
    public string Source => Scenario is not null
        ? $"the narration of scenario {Scenario}"
        : string.Join(" then ", Run.Concat(PowerShell).Select(command => $"`{command}`"));

    /// <summary>The key of the programs this block runs among: blocks with equal keys share them, in page order.</summary>
    public string WorldKey => $"{Setup}|{World}";

    /// <summary>Reads the annotation of <paramref name="fence"/>, or returns null when it has none of the <c>output</c> kind.</summary>
    /// <exception cref="FormatException">The comment starts with <c>output</c> but a line is not a known <c>key: value</c>.</exception>
    public static DocumentedOutput? Read(MarkdownPage page, CodeFence fence)
    {
        if (fence.Comment is not { } comment || !comment.StartsWith("output", StringComparison.Ordinal) || comment.StartsWith("output not checked", StringComparison.Ordinal))
        {
            return null;
        }

        var run = new List<string>();
        var powerShell = new List<string>();
        string setup = "";
        string world = "";
        string? log = null;
        string? scenario = null;
        bool varyingNumbers = false;
        bool anyOrder = false;
        foreach (string line in comment["output".Length..].Split('\n').Select(line => line.Trim()).Where(line => line.Length > 0))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            string key = colon < 0 ? line : line[..colon].Trim();
            string value = colon < 0 ? "" : line[(colon + 1)..].Trim();
            switch (key)
            {
                case "run": run.Add(value); break;
                case "powershell": powerShell.Add(value); break;
                case "setup": setup = value; break;
                case "world": world = value; break;
                case "log": log = value; break;
                case "scenario": scenario = value; break;
                case "varies" when value.Split(',', StringSplitOptions.TrimEntries).All(word => word is "numbers" or "order"):
                    varyingNumbers |= value.Contains("numbers", StringComparison.Ordinal);
                    anyOrder |= value.Contains("order", StringComparison.Ordinal);
                    break;
                default: throw new FormatException($"{page.RelativePath}:{fence.LineNumber}: unknown line in the output annotation: {line}");
            }
        }

        if (run.Count == 0 && powerShell.Count == 0 && scenario is null)
        {
            throw new FormatException($"{page.RelativePath}:{fence.LineNumber}: the output annotation names no run:, powershell: or scenario:");
        }

        return new DocumentedOutput(page, fence, run, powerShell, setup, world, log, scenario, varyingNumbers, anyOrder);
    }
}
