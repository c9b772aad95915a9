using System.Globalization;
using System.Text.RegularExpressions;
using Lab.Scenarios.Grading;
using Lab.Scenarios.Harness;
using Lab.Scenarios.Network;
using Lab.Tests.Scenarios;

namespace Lab.Tests.Scenarios.Grading;

/// <summary>
/// The sample class (<see cref="SampleClass"/>: ours, the Python peer, broken and hostile servers)
/// graded for real: each submission in its sandbox, several at once, with a rubric of the four
/// scenarios that tell its kinds apart quickly. Linux as root; elsewhere ignored with the reason.
/// </summary>
[Slow]
[Parallelizable(ParallelScope.All)]
public class ClassGradingTests
{
    // Cheap scenarios (no client process, at most our registry) that between them catch every kind.
    private const string Rubric = "discovery = 4\nten-concurrent-clients = 6\nshutdown-registry-up-service-up = 3\ntimeout-server-read = 3\n";

    // Per kind, the verdict of each scenario of Rubric, in its order: P pass, F fail.
    private static readonly Dictionary<string, string> Expected = new()
    {
        ["ours"] = "PPPP",
        ["python-peer"] = "PPPP",
        ["one-at-a-time"] = "FFPF",
        ["never-unregisters"] = "PPFP",
        ["ignores-timeouts"] = "PPPF",
        ["fork-bomb"] = "FFFF",
        ["memory-hog"] = "FFFF",
        ["leaves-daemon"] = "FFFF",
        ["connects-out"] = "FFFF",
        ["reads-neighbour"] = "PPPP",
    };

    // What the sandbox says, in every scenario, about each hostile kind.
    private static readonly Dictionary<string, string> SandboxReason = new()
    {
        ["fork-bomb"] = "server-1 forked more than 256 processes and threads",
        ["memory-hog"] = "server-1 exceeded 256 MiB of memory \\(the kernel's OOM killer stopped it\\)",
        ["leaves-daemon"] = "server-1 (exited and )?left 1 process\\(es\\) running",
        ["connects-out"] = "tried to connect to 10.1.2.3:80 \\(the sandbox has no route out; the attempt was refused\\)",
    };

    [Test]
    public async Task Every_kind_of_submission_gets_its_verdicts_the_hostile_ones_are_contained_with_the_reason_and_nothing_is_left()
    {
        SkipUnlessSandboxed();
        using var work = new TemporaryFolder();
        (string classFolder, string rubric) = SampleClassAndRubric(work, Rubric);
        string gradebook = Path.Combine(work.Path, "grades");
        string passwd = File.ReadAllText("/etc/passwd");
        var output = new StringWriter();
        var grading = new ClassGrading(ScenarioTestSupport.Programs, new ClassGradingOptions(classFolder, rubric, gradebook) { Parallel = 5 }, TextWriter.Synchronized(output));

        int exitCode = await grading.RunAsync();

        exitCode.ShouldBe(0, output.ToString());
        IReadOnlyList<GradebookRow> rows = Gradebook.LoadRows(gradebook);
        rows.Select(row => row.Student).ShouldBe(Expected.Keys.Order(StringComparer.Ordinal), ignoreOrder: false);
        foreach (GradebookRow row in rows)
        {
            string verdicts = string.Concat(row.Cells.Select(cell => cell.Outcome[0]));
            verdicts.ShouldBe(Expected[row.Student], $"{row.Student}: {string.Join(" | ", row.Cells.Select(cell => $"{cell.Scenario} {cell.Outcome} {cell.Reason}"))}\n"
                + File.ReadAllText(Path.Combine(gradebook, row.Slug, "logs", $"{row.Cells[0].Scenario}.log")));
            if (SandboxReason.TryGetValue(row.Student, out string? reason))
            {
                row.Cells.ShouldAllBe(cell => Regex.IsMatch(cell.Reason ?? "", "^" + reason), $"{row.Student}: the sandbox's reason leads every verdict: {string.Join(" | ", row.Cells.Select(cell => cell.Reason))}");
            }
        }

        string peer = File.ReadAllText(Path.Combine(gradebook, "reads-neighbour", "logs", "discovery.log"));
        peer.ShouldContain("snoop: read 0 of 18; wrote nothing", Case.Sensitive, "neither the class folder nor another submission's copy could be read, nor anything written outside its folder");
        rows.Single(row => row.Student == "one-at-a-time").Programs.ShouldBe("registry: ours, server: theirs, client: ours", "it handed in only a server");
        File.ReadAllText(Path.Combine(gradebook, "python-peer", "logs", "ten-concurrent-clients.log"))
            .ShouldContain("our Lab.Registry stands in for the foreign registry");
        File.ReadAllLines(Path.Combine(gradebook, Gradebook.CsvName)).Length.ShouldBe(11);
        File.ReadAllText(Path.Combine(gradebook, Gradebook.HtmlName)).ShouldContain("<a href=\"ours/logs/discovery.log\">4</a>");
        ShouldHaveLeftNothing(grading.LastSandbox!, passwd);

        // Grading one student again: the same verdicts, and the other rows stay.
        GradebookRow before = rows.Single(row => row.Student == "one-at-a-time");
        var again = new ClassGrading(ScenarioTestSupport.Programs, new ClassGradingOptions(classFolder, rubric, gradebook) { Students = ["one-at-a-time"] }, TextWriter.Null);
        (await again.RunAsync()).ShouldBe(0);
        IReadOnlyList<GradebookRow> after = Gradebook.LoadRows(gradebook);
        after.Count.ShouldBe(rows.Count);
        after.Single(row => row.Student == "one-at-a-time").Cells.Select(cell => cell.Outcome).ShouldBe(before.Cells.Select(cell => cell.Outcome));
        ShouldHaveLeftNothing(again.LastSandbox!, passwd);
    }

    [Test]
    public async Task Without_a_sandbox_the_class_is_still_graded_and_the_run_says_what_it_cannot_contain()
    {
        SkipWithoutPython();
        using var work = new TemporaryFolder();
        (string classFolder, string rubric) = SampleClassAndRubric(work, "discovery = 4\n", "python-peer", "reads-neighbour");
        var output = new StringWriter();
        var grading = new ClassGrading(ScenarioTestSupport.Programs,
            new ClassGradingOptions(classFolder, rubric, Path.Combine(work.Path, "grades")) { UseSandbox = false }, TextWriter.Synchronized(output));

        (await grading.RunAsync()).ShouldBe(0, output.ToString());

        output.ToString().ShouldContain($"NO SANDBOX (turned off (--no-sandbox)): {SandboxRun.WhatIsNotContained}");
        IReadOnlyList<GradebookRow> rows = Gradebook.LoadRows(Path.Combine(work.Path, "grades"));
        rows.Select(row => row.Earned).ShouldBe([4, 4], string.Join("\n", rows.Select(row => File.ReadAllText(Path.Combine(work.Path, "grades", row.Slug, "logs", "discovery.log")))));
        File.ReadAllText(Path.Combine(work.Path, "grades", "reads-neighbour", "logs", "discovery.log"))
            .ShouldContain($"snoop: read {classFolder}/python-peer/lab.ini", Case.Sensitive, "unsandboxed, it reads its neighbour's manifest: what the sandbox is for");
        grading.LastSandbox.ShouldBeNull();
    }

    [Test]
    public async Task Ctrl_C_in_the_middle_of_a_class_leaves_no_process_namespace_cgroup_folder_or_user_behind()
    {
        SkipUnlessSandboxed();
        using var work = new TemporaryFolder();
        (string classFolder, string rubric) = SampleClassAndRubric(work, "shutdown-registry-up-service-up = 3\nhappy-path = 10\n", "leaves-daemon", "python-peer");
        string passwd = File.ReadAllText("/etc/passwd");
        var grader = new ClassGrading(ScenarioTestSupport.Programs, new ClassGradingOptions("", "", ""), TextWriter.Null);
        await using ManagedProcess run = ManagedProcess.Start("grade-class", ScenarioTestSupport.Programs.DotnetHost,
            [grader.RunnerDll, "grade-class", classFolder, "--rubric", rubric, "--gradebook", Path.Combine(work.Path, "grades")], work.Path, onLine: null);

        // Interrupt once both students have programs of their own running in their sandboxes: a
        // process in a program's cgroup (<run>/<student>/<scenario>/<program>).
        string runName = $"{SandboxRun.NamePrefix}{run.Id}-1";
        string runCgroup = $"{CgroupSet.Root}/freezer/{runName}";
        await WaitUntilAsync(() => StudentsWithProgramsRunning(runCgroup) == 2, () => string.Join('\n', run.Lines.Select(line => line.Text)));
        run.Signal(ProcessSignal.Interrupt);
        int exitCode = await run.WaitForExitAsync(TestTimeouts.Unexpected * 2);

        exitCode.ShouldBe(1, string.Join('\n', run.Lines.Select(line => line.Text)));
        run.Lines.ShouldContain(line => line.Text.StartsWith("interrupted:", StringComparison.Ordinal));
        SandboxRun.ListAll().ShouldNotContain(path => path.EndsWith("/" + runName, StringComparison.Ordinal));
        LabNetwork.ListOurNamespaces().ShouldNotContain(name => LabNetwork.OwnerPid(name) == run.Id);
        ProcessesOfUids(uid => SandboxRun.IsUidOfProcess(uid, run.Id)).ShouldBeEmpty();
        File.ReadAllText("/etc/passwd").ShouldBe(passwd, "no user account was made");
    }

    // The sample class (only the kinds named; every kind when none) and a rubric, in the test's own folder.
    private static (string ClassFolder, string Rubric) SampleClassAndRubric(TemporaryFolder work, string rubric, params string[] kinds)
    {
        string classFolder = Path.Combine(work.Path, "class");
        SampleClass.Write(ScenarioTestSupport.Programs, classFolder, copies: 1, only: kinds.Length == 0 ? null : kinds);
        string rubricPath = Path.Combine(work.Path, "rubric.ini");
        File.WriteAllText(rubricPath, rubric);
        return (classFolder, rubricPath);
    }

    private static int StudentsWithProgramsRunning(string runCgroup)
    {
        try
        {
            return Directory.GetDirectories(runCgroup).Count(student => Directory.GetDirectories(student).SelectMany(Directory.GetDirectories)
                .Any(program => File.ReadAllText(Path.Combine(program, "cgroup.procs")).Trim().Length > 0));
        }
        catch (IOException)
        {
            // Not created yet, or a scenario's groups removed while we looked: look again.
            return 0;
        }
    }

    private static void ShouldHaveLeftNothing(SandboxRun run, string passwd)
    {
        SandboxRun.ListAll().ShouldNotContain(path => path.EndsWith("/" + run.Name, StringComparison.Ordinal), "no cgroup or /run folder of the run");
        LabNetwork.ListOurNamespaces().ShouldNotContain(name => name.StartsWith($"{LabNetwork.NamePrefix}{run.OwnerPid}-{run.Sequence}-", StringComparison.Ordinal) && name.EndsWith(SubmissionSandbox.NamespaceSuffix, StringComparison.Ordinal));
        ProcessesOfUids(uid => run.Owns(uid)).ShouldBeEmpty("no process under one of the run's uids");
        File.ReadAllText("/etc/passwd").ShouldBe(passwd, "no user account was made");
    }

    // "pid uid command" of every live process whose real uid passes the test.
    private static string[] ProcessesOfUids(Func<long, bool> uids) =>
        [.. Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(name => name!.All(char.IsAsciiDigit)).Select(pid =>
        {
            try
            {
                string status = File.ReadAllText($"/proc/{pid}/status");
                long uid = long.Parse(Regex.Match(status, @"^Uid:\s+(\d+)", RegexOptions.Multiline).Groups[1].Value, CultureInfo.InvariantCulture);
                bool zombie = Regex.IsMatch(status, @"^State:\s+Z", RegexOptions.Multiline);
                return uids(uid) && !zombie ? $"{pid} {uid} {File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ')}" : null;
            }
            catch (IOException)
            {
                return null;
            }
        }).OfType<string>()];

    private static async Task WaitUntilAsync(Func<bool> condition, Func<string> explain)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected * 3);
        while (!condition())
        {
            try
            {
                await Task.Delay(TestTimeouts.Poll, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"the students' programs never ran; the grader printed:\n{explain()}");
            }
        }
    }

    private static void SkipUnlessSandboxed()
    {
        SkipWithoutPython();
        if (SandboxRun.UnsupportedReason() is { } reason)
        {
            Assert.Ignore($"no sandbox here: {reason}");
        }
    }

    private static void SkipWithoutPython()
    {
        if (!HostCommand.Exists("python3"))
        {
            Assert.Ignore("the sample class is written in Python, and python3 is not installed (Debian: apt-get install python3)");
        }
    }
}
