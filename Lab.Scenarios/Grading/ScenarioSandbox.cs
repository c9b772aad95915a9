using System.ComponentModel;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Grading;

/// <summary>
/// The sandbox around the student's programs of one scenario: each program runs as the
/// submission's uid, with its own limits, in a cgroup of its own; when the scenario ends,
/// <see cref="EndAsync"/> says which limit a program broke, kills whatever it left running and
/// removes the cgroups.
/// </summary>
/// <remarks>
/// <para>
/// A program is started as <c>/bin/sh -c 'echo $$ &gt; …/cgroup.procs … exec "$@"' setpriv … prlimit … /bin/sh -c 'exec COMMAND'</c>:
/// the first shell joins the cgroups as root (so the program and anything it forks are counted and
/// limited from its first instruction), setpriv drops to the uid with no capabilities and no way
/// back (no_new_privs), prlimit sets the per-process limits, and every step execs the next — the
/// pid the scenario holds is the student's program, so its signals and exit code are the program's own.
/// </para>
/// <para>
/// What counts as a broken limit: the kernel's OOM killer stopped a program (memory), a fork was
/// refused (processes), a program used its CPU seconds, a packet was sent off loopback (recorded by
/// <see cref="ConnectOutWatch"/>), or a process was still running after the scenario stopped every
/// program it started (a daemon that detached from the program the scenario held).
/// </para>
/// <para>Concurrency: <see cref="Start"/> may be called from several tasks at once (clients started together); <c>_gate</c> guards the program list.</para>
/// <example>
/// <code>
/// await using ScenarioSandbox sandbox = ScenarioSandbox.Begin(settings, "happy-path", workDirectory);
/// ManagedProcess server = sandbox.Start(processes, "server-1", "python3 server.py -p 8001", workDirectory);
/// // ... the scenario runs, its programs are stopped ...
/// string? broken = await sandbox.EndAsync(narrator);   // "server-1 exceeded 256 MiB of memory ..." or null
/// </code>
/// </example>
/// </remarks>
internal sealed partial class ScenarioSandbox : IAsyncDisposable
{
    // The per-program controllers; cpu stays shared at the submission's level (its quota covers them all).
    private static readonly string[] ProgramControllers = ["memory", "pids", "cpuacct", "freezer"];

    // A process the scenario killed with its program tree is gone within milliseconds; one still in
    // the cgroup after this long was not in that tree: it detached.
    private static readonly TimeSpan DetachedAfter = TimeSpan.FromSeconds(2);

    // How often the watch reads the counters: a program that broke a limit stops the scenario within this.
    private static readonly TimeSpan WatchPeriod = TimeSpan.FromMilliseconds(250);

    private readonly SandboxSettings _settings;
    private readonly CgroupSet _scenario;
    private readonly Lock _gate = new();
    private readonly List<SandboxedProgram> _programs = []; // guarded by _gate
    private readonly CancellationTokenSource _stopWatching = new();
    private readonly TaskCompletionSource _limitBroken = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _watch;
    private int _ended;

    private ScenarioSandbox(SandboxSettings settings, CgroupSet scenario)
    {
        _settings = settings;
        _scenario = scenario;
        // Owned: stopped and awaited by EndAsync / DisposeAsync.
        _watch = WatchAsync(_stopWatching.Token);
    }

    /// <summary>
    /// Creates the scenario's cgroup below the submission's and starts watching it; opens the
    /// scenario's work directory (its config.ini) to the submission's uid.
    /// </summary>
    public static ScenarioSandbox Begin(SandboxSettings settings, string scenarioName, string workDirectory)
    {
        if (OperatingSystem.IsLinux())
        {
            // A temporary folder is made for its owner only; the student's programs read config.ini
            // in it. Nobody else can get this far: the submission's folder admits root and its uid only.
            File.SetUnixFileMode(workDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                                                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        return new(settings, CgroupSet.Create($"{settings.CgroupPath}/{scenarioName}", ProgramControllers));
    }

    /// <summary>
    /// Fails with a <see cref="ScenarioFailedException"/> naming the limit as soon as a program's memory
    /// or process limit stops it — the runner then ends the scenario at once, instead of letting it
    /// wait out every timeout for a program that can no longer answer. Never completes otherwise.
    /// </summary>
    public Task LimitBroken => _limitBroken.Task;

    /// <summary>
    /// Starts <paramref name="command"/> sandboxed as the program <paramref name="name"/> in
    /// <paramref name="processes"/>, after handing <paramref name="workDirectory"/> over to the submission's uid.
    /// </summary>
    public ManagedProcess Start(ProcessGroup processes, string name, string command, string workDirectory)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("the sandbox runs on Linux only");
        }

        CgroupSet group = _scenario.Child(name);
        group.Write("memory", "memory.limit_in_bytes", _settings.Limits.MemoryBytes.ToString(CultureInfo.InvariantCulture));
        group.Write("pids", "pids.max", _settings.Limits.MaxProcesses.ToString(CultureInfo.InvariantCulture));
        var program = new SandboxedProgram(name, group);
        lock (_gate)
        {
            _programs.Add(program);
        }

        string uid = _settings.Uid.ToString(CultureInfo.InvariantCulture);
        if (Chown(workDirectory, _settings.Uid, _settings.Uid) != 0)
        {
            throw new Win32Exception(Marshal.GetLastPInvokeError(), $"chown {uid} {workDirectory} failed");
        }

        File.SetUnixFileMode(workDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        string cpu = new CgroupSet(_settings.CgroupPath, ["cpu"]).ProcsFile("cpu");
        string join = string.Join(" && ", ProgramControllers.Select(group.ProcsFile).Append(cpu).Select(file => $"echo $$ > {file}"));
        string files = _settings.Limits.MaxOpenFiles.ToString(CultureInfo.InvariantCulture);
        // The watch ends the program at CpuSeconds for all its processes together; RLIMIT_CPU, a second
        // later, is the backstop for a single process should the watch be late.
        string seconds = (_settings.Limits.CpuSeconds + 1).ToString(CultureInfo.InvariantCulture);
        (string shell, string[] shellArguments) = ForeignPrograms.ShellCommand(command);
        string[] arguments =
        [
            "-c", join + " && exec \"$@\"", "rpclab-sandbox",
            "setpriv", $"--reuid={uid}", $"--regid={uid}", "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--",
            "prlimit", $"--nofile={files}:{files}", $"--cpu={seconds}:{seconds}", "--core=0", "--",
            shell, .. shellArguments,
        ];
        var environment = new Dictionary<string, string>
        {
            ["HOME"] = workDirectory,
            ["TMPDIR"] = workDirectory,
            ["PATH"] = SubmissionSandbox.SystemPath,
        };
        program.Process = processes.Start(name, "/bin/sh", arguments, workDirectory, environment);
        return program.Process;
    }

    /// <summary>
    /// After the scenario stopped its programs: narrates what the sandbox saw, kills what was left,
    /// removes the cgroups. Returns the limits broken (the scenario's FAIL reason), or null.
    /// </summary>
    public async Task<string?> EndAsync(Narrator narrator, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _ended, 1) == 1)
        {
            return null;
        }

        SandboxedProgram[] programs;
        lock (_gate)
        {
            programs = [.. _programs];
        }

        await StopWatchingAsync();
        var broken = new List<string>();
        try
        {
            foreach (SandboxedProgram program in programs)
            {
                broken.AddRange(await InspectAsync(program.Name, program.Group, cancellationToken));
            }

            if (_settings.WatchedNamespace is { } watched)
            {
                IReadOnlyList<string> tried = await ConnectOutWatch.TakeAsync(watched, cancellationToken);
                if (tried.Count > 0)
                {
                    broken.Add($"tried to connect to {string.Join(", ", tried)} (the sandbox has no route out; the attempt was refused)");
                }
            }
        }
        finally
        {
            await _scenario.KillAllAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
            _scenario.Remove();
        }

        foreach (string reason in broken)
        {
            narrator.Check(false, $"sandbox: {reason}");
        }

        if (broken.Count == 0 && programs.Length > 0)
        {
            narrator.Check(true, $"sandbox: no limit broken, nothing left running, no connection tried off loopback ({programs.Length} program(s) sandboxed)");
        }

        return broken.Count == 0 ? null : string.Join("; ", broken);
    }

    public async ValueTask DisposeAsync()
    {
        await StopWatchingAsync();
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            await _scenario.KillAllAsync(TimeSpan.FromSeconds(30));
            _scenario.Remove();
        }

        _stopWatching.Dispose();
    }

    private async Task StopWatchingAsync()
    {
        await _stopWatching.CancelAsync();
        await _watch;
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var timer = new PeriodicTimer(WatchPeriod);
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                SandboxedProgram[] programs;
                lock (_gate)
                {
                    programs = [.. _programs];
                }

                if (programs.SelectMany(program => LimitsBroken(program.Name, program.Group).Concat(LeftBehindSinceExit(program))).FirstOrDefault() is { } reason)
                {
                    _limitBroken.TrySetException(new ScenarioFailedException(reason));
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The scenario ended.
        }
    }

    private async Task<List<string>> InspectAsync(string name, CgroupSet group, CancellationToken cancellationToken)
    {
        List<string> broken = [.. LimitsBroken(name, group)];

        // A process still here once the scenario stopped every program it started was not in their process trees: it detached.
        var detachedSince = DateTime.UtcNow;
        IReadOnlyList<int> left = group.Processes();
        while (left.Count > 0 && DateTime.UtcNow - detachedSince < DetachedAfter)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
            left = group.Processes();
        }

        if (left.Count > 0)
        {
            broken.Add($"{name} left {left.Count} process(es) running after it was stopped (pid {left[0]}: {CommandLine(left[0])}{(left.Count > 1 ? ", ..." : "")})");
            await group.KillAllAsync(TimeSpan.FromSeconds(30), cancellationToken);
        }

        return broken;
    }

    // A program that exited while processes it started live on left them behind: found while the
    // scenario runs, because such a process often holds the program's output open, and the scenario
    // would otherwise wait out its timeout for an end of output that never comes.
    private static IEnumerable<string> LeftBehindSinceExit(SandboxedProgram program)
    {
        if (program.Process is not { HasExited: true })
        {
            yield break;
        }

        program.ExitSeen ??= DateTime.UtcNow;
        IReadOnlyList<int> left = program.Group.Processes();
        if (left.Count > 0 && DateTime.UtcNow - program.ExitSeen >= DetachedAfter)
        {
            yield return $"{program.Name} exited and left {left.Count} process(es) running (pid {left[0]}: {CommandLine(left[0])}{(left.Count > 1 ? ", ..." : "")})";
        }
    }

    // The kernel's own counters: each says a limit stopped something, not merely that usage came close.
    private IEnumerable<string> LimitsBroken(string name, CgroupSet group)
    {
        SandboxLimits limits = _settings.Limits;
        if (group.ReadNumber("memory", "memory.oom_control", "oom_kill") > 0)
        {
            yield return $"{name} exceeded {limits.MemoryMiB} MiB of memory (the kernel's OOM killer stopped it)";
        }

        long refused = group.ReadNumber("pids", "pids.events", "max");
        if (refused > 0)
        {
            yield return $"{name} forked more than {limits.MaxProcesses} processes and threads (the kernel refused {refused} fork(s))";
        }

        // cpuacct counts every process the program started, dead or alive.
        double cpuSeconds = group.ReadNumber("cpuacct", "cpuacct.usage") / 1e9;
        if (cpuSeconds >= limits.CpuSeconds)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"{name} used more than {limits.CpuSeconds} s of CPU time");
        }
    }

    private static string CommandLine(int pid)
    {
        try
        {
            string text = Encoding.UTF8.GetString(File.ReadAllBytes($"/proc/{pid}/cmdline")).Replace('\0', ' ').Trim();
            return text.Length > 80 ? text[..77] + "..." : text;
        }
        catch (IOException)
        {
            return "?";
        }
    }

    // One sandboxed program: its cgroup, its process once started, when the watch first saw it exited.
    private sealed class SandboxedProgram(string name, CgroupSet group)
    {
        public string Name { get; } = name;

        public CgroupSet Group { get; } = group;

        public ManagedProcess? Process { get; set; }

        // Written by the watch loop only.
        public DateTime? ExitSeen { get; set; }
    }

    [LibraryImport("libc", EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Chown(string path, int owner, int group);
}
