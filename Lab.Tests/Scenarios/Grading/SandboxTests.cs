using System.Globalization;
using System.Text.RegularExpressions;
using Lab.Scenarios.Grading;
using Lab.Scenarios.Harness;
using Lab.Scenarios.Network;

namespace Lab.Tests.Scenarios.Grading;

/// <summary>
/// The sandbox on this machine's real kernel: namespaces, cgroups v1, another uid. Root on Linux
/// only; elsewhere every test is ignored with the reason.
/// </summary>
[Slow]
[Parallelizable(ParallelScope.All)]
public class SandboxTests
{
    [Test]
    public async Task A_program_that_forks_without_end_is_stopped_at_the_process_limit_and_the_scenario_fails_naming_it()
    {
        await using var sandbox = await TestSandbox.CreateAsync(new SandboxLimits { MaxProcesses = 16 });
        sandbox.Start("server-1", "sh -c 'while :; do sleep 300 & done'");

        ScenarioFailedException broken = await Should.ThrowAsync<ScenarioFailedException>(sandbox.Scenario.LimitBroken.WaitAsync(TestTimeouts.Unexpected));

        broken.Message.ShouldStartWith("server-1 forked more than 16 processes and threads (the kernel refused ");
    }

    [Test]
    public async Task A_program_that_allocates_without_end_is_stopped_at_the_memory_limit_and_the_scenario_fails_naming_it()
    {
        await using var sandbox = await TestSandbox.CreateAsync(new SandboxLimits { MemoryMiB = 32 });
        ManagedProcess hog = sandbox.Start("server-1", "python3 -c 'x = []\nwhile True: x.append(b\"1\" * (1 << 22))'");

        ScenarioFailedException broken = await Should.ThrowAsync<ScenarioFailedException>(sandbox.Scenario.LimitBroken.WaitAsync(TestTimeouts.Unexpected));

        broken.Message.ShouldBe("server-1 exceeded 32 MiB of memory (the kernel's OOM killer stopped it)");
        (await hog.WaitForExitAsync(TestTimeouts.Unexpected)).ShouldBe(128 + 9, "the OOM killer's SIGKILL");
    }

    [Test]
    public async Task A_program_past_its_cpu_seconds_fails_the_scenario_naming_it()
    {
        await using var sandbox = await TestSandbox.CreateAsync(new SandboxLimits { CpuSeconds = 1 });
        sandbox.Start("client-1", "sh -c 'while :; do :; done'");

        ScenarioFailedException broken = await Should.ThrowAsync<ScenarioFailedException>(sandbox.Scenario.LimitBroken.WaitAsync(TestTimeouts.Unexpected));

        broken.Message.ShouldBe("client-1 used more than 1 s of CPU time");
    }

    [Test]
    public async Task A_process_that_detached_from_its_program_is_named_when_the_scenario_ends_and_killed()
    {
        await using var sandbox = await TestSandbox.CreateAsync(new SandboxLimits());
        ManagedProcess server = sandbox.Start("server-1", "sh -c '(setsid sleep 301 &); echo started; sleep 300'");
        await server.WaitForLineAsync(new Regex("started"), TestTimeouts.Unexpected);
        var group = new CgroupSet($"{sandbox.Settings.CgroupPath}/test-scenario/server-1", ["freezer"]);
        int daemon = await WaitForAsync(() => group.Processes().FirstOrDefault(pid => CommandLine(pid) == "sleep 301"));

        await sandbox.Processes.DisposeAsync();   // what the runner does at a scenario's end: kill -9 of each program's tree
        string? broken = await sandbox.Scenario.EndAsync(new Narrator(TextWriter.Null));

        broken.ShouldBe($"server-1 left 1 process(es) running after it was stopped (pid {daemon}: sleep 301)");
        IsRunning(daemon).ShouldBeFalse("the sandbox killed it");
    }

    [Test]
    public async Task A_program_runs_as_the_submissions_uid_without_privileges_and_can_write_only_its_work_folder()
    {
        await using var sandbox = await TestSandbox.CreateAsync(new SandboxLimits());
        ManagedProcess program = sandbox.Start("client-1",
            "sh -c 'id -u; id -g; touch /etc/rpclab-sandbox-test 2>&1; touch \"$HOME/mine\" && echo wrote its own folder; grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status'");

        (await program.WaitForExitAsync(TestTimeouts.Unexpected)).ShouldBe(0);
        string[] lines = [.. program.Lines.Select(line => line.Text)];

        string uid = sandbox.Settings.Uid.ToString(CultureInfo.InvariantCulture);
        lines.ShouldBe([uid, uid, "touch: cannot touch '/etc/rpclab-sandbox-test': Permission denied", "wrote its own folder", "CapEff:\t0000000000000000", "NoNewPrivs:\t1"]);
        (await sandbox.Scenario.EndAsync(new Narrator(TextWriter.Null))).ShouldBeNull("it broke no limit and left nothing behind");
    }

    [Test]
    public async Task A_submissions_sandbox_has_only_loopback_and_a_route_out_that_ends_at_the_recording_rule_and_leaves_nothing_behind()
    {
        SkipUnlessSupported();
        string[] links, table;
        string ns, runName;
        using (SandboxRun run = SandboxRun.Create())
        {
            runName = run.Name;
            using var classFolder = new TemporaryFolder();
            string alice = classFolder.Student("alice", "server = python3 s.py\n");
            SubmissionSandbox submission = await run.AddAsync(0, "alice", alice, [classFolder.Path], new SandboxLimits());
            ns = submission.Namespace;

            links = (await HostCommand.RunAsync("ip", ["-n", ns, "-o", "link", "show"])).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            table = ConnectOutWatch.IsAvailable ? (await HostCommand.RunAsync("ip", ["netns", "exec", ns, "nft", "list", "tables"])).Split('\n', StringSplitOptions.RemoveEmptyEntries) : [];
            File.ReadAllText(Path.Combine(submission.CopyDirectory, "lab.ini")).ShouldBe("server = python3 s.py\n", "the submission runs from a copy");
            submission.HiddenDirectories.ShouldContain(classFolder.Path);
            submission.HiddenDirectories.ShouldContain("/tmp");
        }

        links.Select(line => line.Split(':')[1].Trim().Split('@')[0]).ShouldBe(ConnectOutWatch.IsAvailable ? ["lo", "out1", "out0"] : ["lo"], ignoreOrder: true);
        if (ConnectOutWatch.IsAvailable)
        {
            table.ShouldBe([$"table inet {ConnectOutWatch.Table}"]);
        }

        LabNetwork.ListOurNamespaces().ShouldNotContain(ns);
        SandboxRun.ListAll().ShouldNotContain(path => path.EndsWith("/" + runName, StringComparison.Ordinal));
    }

    [Test]
    public async Task The_child_runner_sees_its_own_repository_in_tmp_but_nothing_else_there_nor_the_class()
    {
        SkipUnlessSupported();
        using var classFolder = new TemporaryFolder();
        string alice = classFolder.Student("alice", "server = python3 s.py\n");
        using var repository = new TemporaryFolder();   // a checkout under /tmp, as a teaching assistant may have
        File.WriteAllText(Path.Combine(repository.Path, "runner.txt"), "the runner's files\n");
        using var neighbour = new TemporaryFolder();
        File.WriteAllText(Path.Combine(neighbour.Path, "secret.txt"), "not for the sandbox");
        using SandboxRun run = SandboxRun.Create();
        using SubmissionSandbox submission = await run.AddAsync(0, "alice", alice, [classFolder.Path], new SandboxLimits(), [repository.Path]);

        (string file, string[] arguments) = submission.LaunchCommand("/bin/sh", ["-c",
            $"cat {repository.Path}/runner.txt; ls {alice} 2>/dev/null || echo no class; cat {neighbour.Path}/secret.txt 2>/dev/null || echo no neighbour; touch {repository.Path}/x 2>/dev/null || echo read-only"]);
        await using ManagedProcess child = ManagedProcess.Start("child", file, arguments, submission.CopyDirectory, onLine: null);

        (await child.WaitForExitAsync(TestTimeouts.Unexpected)).ShouldBe(0, string.Join('\n', child.Lines.Select(line => line.Text)));
        child.Lines.Select(line => line.Text).ShouldBe(["the runner's files", "no class", "no neighbour", "read-only"]);
    }

    [Test]
    public async Task What_a_crashed_run_left_is_removed_by_the_next_one_its_processes_killed()
    {
        SkipUnlessSupported();
        // A pid above the kernel's largest pid_max: no process can have it, so that "run" is certainly dead.
        string name = $"{SandboxRun.NamePrefix}4194305-1";
        CgroupSet leftover = CgroupSet.Create($"{name}/alice/happy-path/server-1", CgroupSet.Controllers);
        Directory.CreateDirectory(Path.Combine(SandboxRun.RunParent, name, "alice"));
        await using ManagedProcess orphan = ManagedProcess.Start("orphan", "sh", ["-c", $"echo $$ > {leftover.ProcsFile("freezer")} && exec sleep 300"], Path.GetTempPath(), onLine: null);
        await WaitForAsync(() => leftover.Processes().Contains(orphan.Id) ? orphan.Id : 0);

        IReadOnlyList<string> removed = SandboxRun.RemoveLeftovers();

        removed.ShouldContain($"{name} (the cgroups and /run folder of a run that is no longer alive)");
        (await orphan.WaitForExitAsync(TestTimeouts.Unexpected)).ShouldBe(128 + 9);
        SandboxRun.ListAll().ShouldNotContain(path => path.EndsWith(name, StringComparison.Ordinal));
    }

    private static void SkipUnlessSupported()
    {
        if (SandboxRun.UnsupportedReason() is { } reason)
        {
            Assert.Ignore($"no sandbox here: {reason}");
        }
    }

    private static async Task<int> WaitForAsync(Func<int> found)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        int value;
        while ((value = found()) == 0)
        {
            await Task.Delay(TestTimeouts.Poll, deadline.Token);
        }

        return value;
    }

    // Dead, or a zombie its new parent (this machine's init) has not reaped yet.
    private static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>One submission's sandbox and one scenario in it, with a process group to start programs in.</summary>
    private sealed class TestSandbox : IAsyncDisposable
    {
        private readonly SandboxRun _run;
        private readonly TemporaryFolder _folder;
        private readonly SubmissionSandbox _submission;

        private TestSandbox(SandboxRun run, TemporaryFolder folder, SubmissionSandbox submission)
        {
            _run = run;
            _folder = folder;
            _submission = submission;
            Settings = submission.Settings!;
            Scenario = ScenarioSandbox.Begin(Settings, "test-scenario", submission.ScratchDirectory);
            Processes = new ProcessGroup(submission.ScratchDirectory, onLine: null);
        }

        public SandboxSettings Settings { get; }

        public ScenarioSandbox Scenario { get; }

        public ProcessGroup Processes { get; }

        public static async Task<TestSandbox> CreateAsync(SandboxLimits limits)
        {
            SkipUnlessSupported();
            SandboxRun run = SandboxRun.Create();
            var folder = new TemporaryFolder();
            SubmissionSandbox submission = await run.AddAsync(0, "student", folder.Student("student", "server = s\n"), [], limits);
            return new TestSandbox(run, folder, submission);
        }

        public ManagedProcess Start(string name, string command)
        {
            string workDirectory = Path.Combine(_submission.ScratchDirectory, name);
            Directory.CreateDirectory(workDirectory);
            return Scenario.Start(Processes, name, command, workDirectory);
        }

        public async ValueTask DisposeAsync()
        {
            await Processes.DisposeAsync();
            await Scenario.DisposeAsync();
            _run.Dispose();
            _folder.Dispose();
        }
    }
}
