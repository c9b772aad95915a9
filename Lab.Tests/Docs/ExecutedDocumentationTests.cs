using System.Diagnostics;
using System.Text;
using Lab.Scenarios;
using Lab.Tests.Scenarios;
using Lab.Tests.Support;

namespace Lab.Tests.Docs;

/// <summary>
/// Every block of program output in the root README and docs/ (help texts, logs, client output,
/// HTTP answers, scenario narration) is produced again by the command its annotation names, against
/// the real programs, and compared (see <see cref="DocumentedOutput"/> for the annotation and
/// <see cref="OutputComparison"/> for what may differ). A block that changed fails the test with a
/// diff and the command that re-records every block:
/// <code>RPCLAB_RECORD_DOCS=1 dotnet test Lab.Tests --filter "FullyQualifiedName~Lab.Tests.Docs.ExecutedDocumentationTests"</code>
/// </summary>
/// <remarks>
/// Blocks with the same setup share one set of running programs (a registry and servers), and blocks
/// showing a scenario's narration share that scenario's one run with the scenario tests
/// (<see cref="ScenarioTestSupport.RunOnceAsync"/>), so the check costs a few program starts, not a
/// run per block.
/// </remarks>
[TestFixture]
public sealed class ExecutedDocumentationTests
{
    /// <summary>The command a failure prints: it runs this fixture with re-recording on.</summary>
    public const string RecordCommand =
        "RPCLAB_RECORD_DOCS=1 dotnet test Lab.Tests --filter \"FullyQualifiedName~Lab.Tests.Docs.ExecutedDocumentationTests\"";

    /// <summary>The same in PowerShell.</summary>
    public const string RecordCommandPowerShell =
        "$env:RPCLAB_RECORD_DOCS = '1'; dotnet test Lab.Tests --filter \"FullyQualifiedName~Lab.Tests.Docs.ExecutedDocumentationTests\"; Remove-Item Env:RPCLAB_RECORD_DOCS";

    private static bool Recording => Environment.GetEnvironmentVariable("RPCLAB_RECORD_DOCS") == "1";

    // RPCLAB_DOCS_PAGES=docs/README.md,docs/05 checks (or re-records) only the pages whose path contains one of them.
    private static bool Selected(DocumentedOutput output) =>
        Environment.GetEnvironmentVariable("RPCLAB_DOCS_PAGES") is not { Length: > 0 } pages
        || pages.Split(',', StringSplitOptions.TrimEntries).Any(page => output.Page.RelativePath.Contains(page, StringComparison.Ordinal));

    [Test]
    [Slow]
    public async Task Every_output_block_is_what_its_command_prints_today()
    {
        var clock = Stopwatch.StartNew();
        string root = DocumentationFiles.RepositoryRoot();
        DocumentationInventory inventory = DocumentationInventory.Read(root);

        List<BlockOutcome> outcomes = [];
        // Programs first, two groups at a time; then the scenarios' blocks, from the scenario tests' own runs.
        IEnumerable<Task<GroupRun>> groups = inventory.Outputs.Where(output => output.Scenario is null && Selected(output))
            .GroupBy(output => output.WorldKey)
            .Select(group => RunGroupAsync([.. group]));
        GroupRun[] groupRuns = await Task.WhenAll(groups);
        outcomes.AddRange(groupRuns.SelectMany(group => group.Outcomes));
        TimeSpan programsTime = clock.Elapsed;
        // The scenarios' shared runs take lanes as the runner's --parallel does (ScenarioTestSupport.Lanes).
        outcomes.AddRange(await Task.WhenAll(inventory.Outputs.Where(output => output.Scenario is not null && Selected(output)).Select(CheckScenarioBlockAsync)));

        string summary = Summary(inventory, outcomes, clock.Elapsed)
                         + $"  the programs' blocks took {programsTime.TotalSeconds:0.0} s (longest groups: "
                         + string.Join(", ", groupRuns.OrderByDescending(group => group.Elapsed).Take(3).Select(group => $"{group.First} {group.Elapsed.TotalSeconds:0.0} s"))
                         + $"); the rest was waiting for the scenarios' shared runs{Environment.NewLine}"
                         + "  slowest blocks: " + string.Join(", ", groupRuns.SelectMany(group => group.Blocks).OrderByDescending(block => block.Elapsed).Take(8).Select(block => $"{block.Location} {block.Elapsed.TotalSeconds:0.0} s"))
                         + Environment.NewLine;
        await TestContext.Out.WriteLineAsync(summary);
        BlockOutcome[] changed = [.. outcomes.Where(outcome => outcome.Proposal is not null)];
        string[] failed = [.. outcomes.Where(outcome => outcome.Failure is not null).Select(outcome => $"{outcome.Output.Location}: {outcome.Failure}")];
        if (Recording)
        {
            Rewrite(root, changed);
            await TestContext.Out.WriteLineAsync($"re-recorded {changed.Length} block(s)");
            // All each changed command printed, for trimming a re-recorded block by hand.
            foreach (BlockOutcome outcome in changed.Where(outcome => outcome.Printed is not null))
            {
                await TestContext.Out.WriteLineAsync($"--- {outcome.Output.Location} printed:\n{string.Join('\n', outcome.Printed!)}");
            }
        }

        // One message for all three kinds of trouble, so that one does not hide another.
        var trouble = new StringBuilder();
        if (!Recording && changed.Length > 0)
        {
            trouble.Append(DescribeChanges(changed));
        }

        if (failed.Length > 0)
        {
            trouble.AppendLine("blocks whose commands could not run:").AppendLine(string.Join('\n', failed));
        }

        if (inventory.Problems.Count > 0)
        {
            trouble.AppendLine("annotations to fix:").AppendLine(string.Join('\n', inventory.Problems));
        }

        // The length, not the text, is asserted: the message is the text (diffs, failures, annotations).
        trouble.Length.ShouldBe(0, trouble.ToString());
        inventory.Outputs.Count.ShouldBeGreaterThan(30, "the annotations were found (a vacuous pass would check nothing)");
    }

    [Test]
    public void Every_text_block_says_what_prints_it_and_every_command_it_runs_is_on_its_page()
    {
        // The fast half of the check above, with no program run: the annotations themselves.
        DocumentationInventory inventory = DocumentationInventory.Read(DocumentationFiles.RepositoryRoot());

        inventory.Problems.Count.ShouldBe(0, string.Join('\n', inventory.Problems));
        inventory.Outputs.Count.ShouldBeGreaterThan(30);
        inventory.NotChecked.ShouldAllBe(block => block.Reason.Length > 10, "a block left out says why");
    }

    [Test]
    public void A_changed_output_line_fails_with_a_diff_and_the_record_command()
    {
        MarkdownPage page = MarkdownPage.Parse("docs/example.md", """
            <!-- output
            run: dotnet run --project Lab.Registry -- -p 9999
            -->
            ```text
            2026-11-25 20:00:12.285 INFO  Registry: Registry listening on http://127.0.0.1:9999
            ```
            """);
        DocumentedOutput output = DocumentedOutput.Read(page, page.Fences[0]).ShouldNotBeNull();
        string[] printed = ["2027-01-02 10:11:12.131 INFO  Registry: Registry center listening on http://127.0.0.1:9999"];
        var comparison = new OutputComparison(varyingNumbers: false);

        BlockOutcome outcome = BlockOutcome.Compare(output, printed, comparison);

        string message = DescribeChanges([outcome]);
        message.ShouldContain("docs/example.md:4: the output of `dotnet run --project Lab.Registry -- -p 9999` changed");
        message.ShouldContain("- 2026-11-25 20:00:12.285 INFO  Registry: Registry listening on http://127.0.0.1:9999");
        message.ShouldContain("+ 2027-01-02 10:11:12.131 INFO  Registry: Registry center listening on http://127.0.0.1:9999");
        message.ShouldContain(RecordCommand);
    }

    [Test]
    public void An_unchanged_output_passes_whatever_varies_between_runs()
    {
        var comparison = new OutputComparison(varyingNumbers: false);
        string[] documented =
        [
            "+  0.35s           registry | INFO  Registry: Registry listening on http://127.0.0.1:41279",
            "+  0.36s  step   started server-1 (pid 11696): Lab.Server -l 127.0.0.1 -p 0",
            "+  3.04s           server-1 | INFO  TcpServer: Connection from 127.0.0.1:58914 closed after 2 calls (server stopping)",
            "PASS  (3.1 s)",
        ];
        string[] printed =
        [
            "+  1.12s           registry | INFO  Registry: Registry listening on http://127.0.0.1:33012",
            "+  1.40s  step   started server-1 (pid 2231): Lab.Server -l 127.0.0.1 -p 0",
            "+  4.88s           server-1 | INFO  TcpServer: Connection from 127.0.0.1:40022 closed after 2 calls (server stopping)",
            "PASS  (4.9 s)",
        ];

        comparison.Matches(documented, printed).ShouldBeTrue();
        comparison.Matches(documented, [.. printed.Take(3), "FAIL: the server did not stop"]).ShouldBeFalse();
    }

    [Test]
    public void Three_dots_stand_for_lines_left_out_and_for_text_left_out_of_a_line()
    {
        var comparison = new OutputComparison(varyingNumbers: false);
        string[] printed = ["a", "b", "c", "d", "e"];

        comparison.Matches(["a", "...", "e"], printed).ShouldBeTrue();
        comparison.Matches(["...", "c", "..."], printed).ShouldBeTrue();
        comparison.Matches(["a", "b", "...", "c", "d", "e"], printed).ShouldBeTrue("... may stand for no line at all");
        comparison.Matches(["a", "...", "d"], printed).ShouldBeFalse("without a trailing ..., the block ends where the output ends");
        comparison.Matches(["b", "...", "e"], printed).ShouldBeFalse("without a leading ..., the block starts where the output starts");
        comparison.Matches(["a", "...", "d", "c", "..."], printed).ShouldBeFalse("lines keep their order");
        comparison.Matches(["{\"res\":[{\"method_name\":\"add\"},...,{\"method_name\":\"square\"}]}"],
            ["{\"res\":[{\"method_name\":\"add\"},{\"method_name\":\"hi\"},{\"method_name\":\"square\"}]}"]).ShouldBeTrue();
    }

    [Test]
    public void A_re_recorded_block_shows_one_run_and_keeps_what_it_left_out()
    {
        var comparison = new OutputComparison(varyingNumbers: false);
        string[] documented =
        [
            "2026-11-25 20:00:16.900 INFO  RpcServer: Server listening on 127.0.0.1:8089",
            "...",
            "2026-11-25 20:00:17.100 INFO  RegistryClient: Registered as json://127.0.0.1:8089",
            "add(1, 2) = 13",
        ];
        string[] printed =
        [
            "2027-01-01 09:00:00.000 INFO  RpcServer: Server listening on 127.0.0.1:8089",
            "2027-01-01 09:00:00.010 DEBUG RpcServer: one line the page leaves out",
            "2027-01-01 09:00:00.020 INFO  RegistryClient: Registered with registry as json://127.0.0.1:8089",
            "add(1, 2) = 13",
            "a new last line",
        ];

        string[] proposal = comparison.Propose(documented, printed);

        // The matching first line is taken from this run too, so the block never mixes two runs' times.
        proposal.ShouldBe(
        [
            "2027-01-01 09:00:00.000 INFO  RpcServer: Server listening on 127.0.0.1:8089",
            "...",
            "2027-01-01 09:00:00.020 INFO  RegistryClient: Registered with registry as json://127.0.0.1:8089",
            "add(1, 2) = 13",
            "a new last line",
        ]);
        comparison.Matches(proposal, printed).ShouldBeTrue();
    }

    [Test]
    public void Lines_of_several_programs_may_come_in_any_order_but_each_must_be_there()
    {
        var comparison = new OutputComparison(varyingNumbers: false, anyOrder: true);
        string[] printed = ["registry | Registered server-2", "registry | Registered server-1", "check [ok] both registered"];

        comparison.Matches(["registry | Registered server-1", "registry | Registered server-2", "check [ok] both registered"], printed).ShouldBeTrue();
        comparison.Matches(["registry | Registered server-1", "..."], printed).ShouldBeTrue();
        comparison.Matches(["registry | Registered server-1", "check [ok] both registered"], printed).ShouldBeFalse("without ..., every printed line must be shown");
        comparison.Matches(["registry | Registered server-3", "..."], printed).ShouldBeFalse();
    }

    [TestCase("2026-11-25 20:00:12.285 INFO  x", "<time> INFO  x")]
    [TestCase("+  1.02s  step   Ctrl+C (SIGINT) to server-1", "+<t>  step   Ctrl+C (SIGINT) to server-1")]
    [TestCase("started client-1 (pid 6168): Lab.ClientApp -m server -i 127.0.0.1 -p 35339 add 1 2", "started client-1 (pid <pid>): Lab.ClientApp -m server -i 127.0.0.1 -p <port> add 1 2")]
    [TestCase("Discovered 2 json instances at http://127.0.0.1:9999: [::1]:8089", "Discovered 2 json instances at http://127.0.0.1:<port>: [::1]:<port>")]
    [TestCase("--config /tmp/rpclab-scenarios/happy-path-3f49677a/config.ini", "--config <scenario-folder>/config.ini")]
    [TestCase("--config /tmp/rpclab-bad-input-server-sqx9hi/config.ini", "--config <scenario-folder>/config.ini")]
    [TestCase("1 passed, 0 failed, 0 skipped in 61.2 s", "1 passed, 0 failed, 0 skipped in<duration>")]
    [TestCase("add -> ok in 14.6 ms; 10 succeeded, 4 seconds", "add -> ok in<duration>; 10 succeeded, 4 seconds")]
    [TestCase("  happy-path  PASS     13.5s", "  happy-path  PASS<duration>")]
    [TestCase("[3/26] discovery  elapsed 0:09, about 1:58 left", "[3/26] discovery  elapsed <clock>, about <clock> left")]
    public void What_varies_between_runs_is_scrubbed(string line, string scrubbed) =>
        new OutputComparison(varyingNumbers: false).Scrub(line).ShouldBe(scrubbed);

    // Two groups of programs at a time: each group starts two or three .NET programs, and a dozen
    // groups starting at once on two cores would slow every program past its own timeouts.
    private static readonly SemaphoreSlim TwoGroupsAtATime = new(2, 2);

    private static async Task<GroupRun> RunGroupAsync(DocumentedOutput[] outputs)
    {
        await TwoGroupsAtATime.WaitAsync();
        var clock = Stopwatch.StartNew();
        try
        {
            var blocks = new List<(string Location, TimeSpan Elapsed)>();
            return new GroupRun(outputs[0].Location, await RunGroupCoreAsync(outputs, blocks), clock.Elapsed, blocks);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException)
        {
            // One group's programs failing must not hide what the other groups found.
            return new GroupRun(outputs[0].Location, [.. outputs.Select(output => BlockOutcome.Failed(output, ex.Message))], clock.Elapsed, []);
        }
        finally
        {
            TwoGroupsAtATime.Release();
        }
    }

    // Adds each block's time to blockTimes, for the summary's slowest blocks.
    private static async Task<BlockOutcome[]> RunGroupCoreAsync(DocumentedOutput[] outputs, List<(string Location, TimeSpan Elapsed)> blockTimes)
    {
        var outcomes = new List<BlockOutcome>();
        if (outputs.SelectMany(output => output.Run).FirstOrDefault(NeedsMissingTool) is { } needy)
        {
            return [.. outputs.Select(output => BlockOutcome.Skipped(output, $"needs {needy.Split(' ')[0]}, which is not installed"))];
        }

        await using DocumentationLab lab = await DocumentationLab.StartAsync(outputs[0].Setup, ScenarioTestSupport.Programs);
        foreach (DocumentedOutput output in outputs)
        {
            long started = Stopwatch.GetTimestamp();
            var comparison = new OutputComparison(output.VaryingNumbers, output.AnyOrder);
            int logStart = output.Log is { } program ? lab.LineCount(program) : 0;
            Func<IReadOnlyList<string>, bool> isComplete = output.Log is { } shown
                ? _ => comparison.Matches(output.Fence.Content, lab.LogLines(shown, logStart))
                : printedSoFar => comparison.Matches(output.Fence.Content, printedSoFar);
            IReadOnlyList<string> printed = await lab.RunAsync(output.Run, isComplete);
            if (output.Log is { } logged)
            {
                printed = await lab.LogAsync(logged, logStart, output.Fence.Content, comparison);
            }

            BlockOutcome outcome = output.Run.Count > 0 ? BlockOutcome.Compare(output, printed, comparison) : BlockOutcome.Unchanged(output);
            // A twin that sets an environment variable runs in its own test, alone (see below).
            if (output.PowerShell.Count > 0 && outcome.Proposal is null && !SetsEnvironmentVariable(output))
            {
                IReadOnlyList<string> twin = await lab.RunPowerShellAsync(output.PowerShell);
                outcome = BlockOutcome.Compare(output, twin, comparison, "its PowerShell twin");
            }

            outcomes.Add(outcome);
            blockTimes.Add((output.Location, Stopwatch.GetElapsedTime(started)));
        }

        return [.. outcomes];
    }

    [Test]
    [Slow]
    [NonParallelizable] // $env: changes this process's environment, which every process started meanwhile would inherit
    public async Task PowerShell_twins_that_set_environment_variables_print_the_same_block()
    {
        DocumentedOutput[] twins = [.. DocumentationInventory.Read(DocumentationFiles.RepositoryRoot()).Outputs.Where(SetsEnvironmentVariable)];
        List<string> changed = [];
        foreach (DocumentedOutput output in twins)
        {
            var comparison = new OutputComparison(output.VaryingNumbers, output.AnyOrder);
            await using DocumentationLab lab = await DocumentationLab.StartAsync(output.Setup, ScenarioTestSupport.Programs);
            IReadOnlyList<string> printed = await lab.RunPowerShellAsync(output.PowerShell);
            if (!comparison.Matches(output.Fence.Content, printed))
            {
                changed.Add($"{output.Location}: the PowerShell twin printed:\n" + OutputComparison.Diff(output.Fence.Content, comparison.Propose(output.Fence.Content, printed)));
            }
        }

        changed.ShouldBeEmpty();
        twins.ShouldNotBeEmpty("chapter 14 shows a variable set the PowerShell way");
    }

    private static bool SetsEnvironmentVariable(DocumentedOutput output) =>
        output.PowerShell.Any(line => line.Contains("$env:", StringComparison.OrdinalIgnoreCase));

    private static async Task<BlockOutcome> CheckScenarioBlockAsync(DocumentedOutput output)
    {
        (ScenarioResult result, string narration) = await ScenarioTestSupport.RunOnceAsync(output.Scenario!);
        if (result.Outcome == ScenarioOutcome.Skip)
        {
            return BlockOutcome.Skipped(output, $"scenario {output.Scenario} skipped here: {result.Reason}");
        }

        // A failed run is no picture of what the scenario shows (and must not be re-recorded as one);
        // the scenario's own test reports the failure in full.
        if (result.Outcome == ScenarioOutcome.Fail)
        {
            return BlockOutcome.Failed(output, $"scenario {output.Scenario} failed in this run: {result.Reason}");
        }

        // A narration interleaves several programs' lines, whose order is the scheduler's, not the code's.
        string[] lines = narration.ReplaceLineEndings("\n").Trim('\n').Split('\n');
        return BlockOutcome.Compare(output, lines, new OutputComparison(output.VaryingNumbers, anyOrder: true));
    }

    private static bool NeedsMissingTool(string command)
    {
        string tool = command.Split(' ')[0];
        return tool is "python3" or "curl" or "etcd" or "etcdctl" && !ExecutableExists(tool);
    }

    private static bool ExecutableExists(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
        .Any(folder => folder.Length > 0 && File.Exists(Path.Combine(folder, name)));

    private static void Rewrite(string root, IEnumerable<BlockOutcome> changed)
    {
        foreach (IGrouping<MarkdownPage, BlockOutcome> page in changed.GroupBy(outcome => outcome.Output.Page))
        {
            string text = page.Key.WithContents(page.ToDictionary(outcome => outcome.Output.Fence.FenceLine, outcome => (IReadOnlyList<string>)outcome.Proposal!));
            File.WriteAllText(Path.Combine(root, page.Key.RelativePath), text);
        }
    }

    private static string DescribeChanges(IReadOnlyCollection<BlockOutcome> changed)
    {
        var text = new StringBuilder();
        foreach (BlockOutcome outcome in changed)
        {
            text.AppendLine($"{outcome.Output.Location}: the output of {outcome.What} changed:");
            text.Append(OutputComparison.Diff(outcome.Output.Fence.Content, outcome.Proposal!));
        }

        text.AppendLine($"{changed.Count} block(s) differ from what their commands print. If the new output is right, re-record every block:");
        text.AppendLine("  " + RecordCommand);
        text.AppendLine("  (PowerShell: " + RecordCommandPowerShell + ")");
        return text.ToString();
    }

    private static string Summary(DocumentationInventory inventory, List<BlockOutcome> outcomes, TimeSpan elapsed)
    {
        var text = new StringBuilder();
        int skipped = outcomes.Count(outcome => outcome.SkipReason is not null);
        text.AppendLine($"{inventory.OutputBlockCount} output blocks in README.md, CONTRIBUTING.md, Lab.Scenarios/README.md and docs/: "
                        + $"{inventory.Outputs.Count} checked by a command ({skipped} skipped on this machine), "
                        + $"{inventory.NotChecked.Count} left out, each with its reason; {outcomes.Count(outcome => outcome.Output.PowerShell.Count > 0 && outcome.SkipReason is null)} PowerShell twins run; "
                        + $"{elapsed.TotalSeconds:0.0} s");
        foreach (BlockOutcome outcome in outcomes.Where(outcome => outcome.SkipReason is not null))
        {
            text.AppendLine($"  skipped {outcome.Output.Location}: {outcome.SkipReason}");
        }

        foreach ((string location, string reason) in inventory.NotChecked)
        {
            text.AppendLine($"  left out {location}: {reason}");
        }

        return text.ToString();
    }

    /// <summary>The blocks that share one set of programs, by the first one's location, and how long they took, together and each.</summary>
    private sealed record GroupRun(string First, BlockOutcome[] Outcomes, TimeSpan Elapsed, IReadOnlyList<(string Location, TimeSpan Elapsed)> Blocks);

    /// <summary>The result of checking one block: unchanged, skipped, or the block it should become (and all it printed).</summary>
    private sealed record BlockOutcome(DocumentedOutput Output, string[]? Proposal, string? SkipReason, string What, string? Failure = null, IReadOnlyList<string>? Printed = null)
    {
        public static BlockOutcome Unchanged(DocumentedOutput output) => new(output, null, null, output.Source);

        public static BlockOutcome Skipped(DocumentedOutput output, string reason) => new(output, null, reason, output.Source);

        public static BlockOutcome Failed(DocumentedOutput output, string failure) => new(output, null, null, output.Source, failure);

        // Re-recording fills a block that shows nothing yet (only "...") with the whole output, to be trimmed by hand.
        public static BlockOutcome Compare(DocumentedOutput output, IReadOnlyList<string> printed, OutputComparison comparison, string? what = null) =>
            Recording && output.Fence.Content.All(line => line.Trim() == OutputComparison.Ellipsis)
                ? new BlockOutcome(output, [.. printed], null, output.Source)
                : comparison.Matches(output.Fence.Content, printed)
                ? new BlockOutcome(output, null, null, what ?? output.Source)
                : new BlockOutcome(output, comparison.Propose(output.Fence.Content, printed), null, what is null ? output.Source : $"{what} ({string.Join("; ", output.PowerShell)})", null, printed);
    }
}
