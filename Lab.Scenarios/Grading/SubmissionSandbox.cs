using System.Globalization;
using Lab.Scenarios.Harness;
using Lab.Scenarios.Network;

namespace Lab.Scenarios.Grading;

/// <summary>
/// The sandbox one submission is graded in: a network namespace of its own, a cgroup, a copy of its
/// folder owned by a uid of its own, and a private view of the file system. The grader of that
/// submission (a child runner, <see cref="SubmissionGrading"/>) runs inside it as root; the student's
/// programs it starts run inside it as that uid (<see cref="ScenarioSandbox"/>).
/// </summary>
/// <remarks>
/// <para>
/// <b>Network.</b> The namespace has loopback, where the student's programs and the grader's (our
/// registry, servers, clients and the harness's probes) meet, and nothing else: a default route into
/// a veth pair that never leaves it, behind an nftables rule that records and rejects every packet a
/// student's program sends off loopback (<see cref="ConnectOutWatch"/>). Two submissions never share
/// a namespace, so they cannot reach each other.
/// </para>
/// <para>
/// <b>Files.</b> The child runner starts in a mount namespace of its own (<c>unshare --mount</c>),
/// where the world-writable folders (<c>/tmp</c>, <c>/var/tmp</c>, <c>/dev/shm</c>, <c>/run/lock</c>),
/// the class folder and the gradebook folder are covered by empty read-only tmpfs mounts (the
/// repository the runner runs from stays readable, even in <c>/tmp</c>: <see cref="HidingScript"/>), and
/// <c>/proc</c> shows a user only its own processes (<c>hidepid=2</c>). What the uid can write is its
/// copy and each program's <c>{workdir}</c>; what it can read is those and the system's public files.
/// The copy lives in <c>/run/rpclab-grading-&lt;pid&gt;/&lt;student&gt;/</c>, a folder only root and
/// that uid's group may enter. The mounts vanish with the namespace when the child runner exits.
/// </para>
/// <para>
/// <b>Processes.</b> The child runner joins the submission's freezer cgroup before it starts anything,
/// so every process of the grading — ours and the student's, attached or detached — is in it, and
/// <see cref="Dispose"/> kills them all (<see cref="CgroupSet.KillAllAsync"/>) before it removes the
/// cgroups, the namespace and the folder.
/// </para>
/// <para>
/// Why no pid namespace: the program the runner holds would then be that namespace's init, and init
/// ignores SIGTERM and SIGINT unless it installs a handler — a student's server that relies on the
/// default action would no longer stop on Ctrl+C, and the graceful-stop scenarios would grade the
/// sandbox instead of the program. A uid of its own already keeps it from signalling anyone else's
/// processes, and <c>hidepid</c> from seeing them.
/// </para>
/// <example>
/// <code>
/// SubmissionSandbox alice = await run.AddAsync(0, "alice", "/class/alice", hidden, limits);
/// (string file, string[] arguments) = alice.LaunchCommand(dotnet, [runnerDll, "grade-submission", planPath]);
/// // ... run the child runner with alice.CopyDirectory as its working directory ...
/// alice.Dispose();
/// </code>
/// </example>
/// </remarks>
internal sealed class SubmissionSandbox : ISubmissionHost
{
    /// <summary>The end of the namespace's name: <c>rpclab-&lt;pid&gt;-&lt;run&gt;-&lt;n&gt;-sandbox</c>.</summary>
    public const string NamespaceSuffix = "-sandbox";

    /// <summary>The PATH the student's programs get: the system's, never root's own tool folders (a uid cannot enter /root).</summary>
    public const string SystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private const UnixFileMode RootOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private readonly SandboxRun _run;
    private int _disposed;

    public SubmissionSandbox(SandboxRun run, int index, string slug, SandboxLimits limits)
    {
        _run = run;
        Slug = slug;
        Limits = limits;
        Uid = run.UidFor(index);
        // rpclab-<pid>-<run>-<n>-sandbox: LabNetwork's crash clean-up reads the pid from it too.
        Namespace = string.Create(CultureInfo.InvariantCulture, $"{LabNetwork.NamePrefix}{run.OwnerPid}-{run.Sequence}-{index + 1}{NamespaceSuffix}");
        Cgroup = new CgroupSet($"{run.Cgroup.Path}/{slug}", CgroupSet.Controllers);
        Directory = Path.Combine(run.Directory, slug);
    }

    /// <summary>The submission's folder name, used in every name of its sandbox.</summary>
    public string Slug { get; }

    public SandboxLimits Limits { get; }

    /// <summary>The uid (and gid) the student's programs run as.</summary>
    public int Uid { get; }

    /// <summary>The network namespace the whole grading of this submission runs in.</summary>
    public string Namespace { get; }

    public CgroupSet Cgroup { get; }

    /// <summary><c>/run/rpclab-grading-&lt;pid&gt;-&lt;run&gt;/&lt;student&gt;</c>.</summary>
    public string Directory { get; }

    /// <summary>The copy of the submission the programs run from (<c>{cwd}</c>), owned by <see cref="Uid"/>.</summary>
    public string CopyDirectory => Path.Combine(Directory, "submission");

    /// <summary>The child runner's TMPDIR: its scenarios' work folders (each program's <c>{workdir}</c> is handed to the uid).</summary>
    public string ScratchDirectory => Path.Combine(Directory, "tmp");

    /// <summary>Where the child runner writes its report and logs; only root may enter it.</summary>
    public string OutputDirectory => Path.Combine(Directory, "out");

    /// <summary>True when nftables records the submission's attempts to connect out (else they just fail: there is no route).</summary>
    public bool WatchesConnects { get; private set; }

    /// <summary>The folders covered by an empty read-only mount in the child's view, deepest first.</summary>
    public IReadOnlyList<string> HiddenDirectories { get; private set; } = [];

    /// <summary>
    /// The folders the child runner itself runs from (the repository and the dotnet host), readable in its
    /// view even when they lie in a hidden one.
    /// </summary>
    public IReadOnlyList<string> KeptDirectories { get; private set; } = [];

    /// <summary>What the child runner needs to know to sandbox each program it starts.</summary>
    public SandboxSettings? Settings => new(Uid, Cgroup.Path, Limits, WatchesConnects ? Namespace : null);

    /// <summary>
    /// The command that runs <paramref name="program"/> inside the sandbox as root: in the namespace,
    /// in a private mount namespace with the folders hidden, in the submission's cgroup.
    /// </summary>
    public (string FileName, string[] Arguments) LaunchCommand(string program, IReadOnlyList<string> arguments)
    {
        // /bin/sh runs as root before the runner starts: join the cgroup first (so nothing it starts
        // escapes it), then build the private view, then exec — the pid the grader holds is the runner's.
        var script = new List<string>
        {
            "set -e",
            $"echo $$ > {Cgroup.ProcsFile("freezer")}",
            "mount -t proc -o hidepid=2 proc /proc",
        };
        script.AddRange(HidingScript());
        script.Add("exec \"$@\"");
        return ("nsenter", [$"--net=/run/netns/{Namespace}", "--", "unshare", "--mount", "--propagation", "private", "--",
            "/bin/sh", "-c", string.Join('\n', script), "rpclab-grading", program, .. arguments]);
    }

    /// <summary>
    /// The mounts that hide <see cref="HiddenDirectories"/> and leave <see cref="KeptDirectories"/> readable.
    /// A kept folder inside a hidden one (a repository checked out under <c>/tmp</c>) is bound to a
    /// staging point first, the hidden folder is covered, and the binding is moved back to its own path
    /// in the cover before the cover turns read-only. Hidden folders inside a kept one are covered last.
    /// </summary>
    internal IEnumerable<string> HidingScript()
    {
        string[] kept = [.. KeptDirectories.Where(kept => HiddenDirectories.Any(hidden => IsInside(kept, hidden)))];
        // The outermost hidden folders with a kept folder inside: covering them hides everything else below.
        string[] covers = [.. HiddenDirectories.Where(hidden => kept.Any(k => IsInside(k, hidden))
            && !HiddenDirectories.Any(outer => outer != hidden && IsInside(hidden, outer)))];
        for (int i = 0; i < kept.Length; i++)
        {
            string staging = ShellQuote(StagingDirectory(i));
            yield return $"mount --bind {ShellQuote(kept[i])} {staging}";
            yield return $"mount -o remount,bind,ro {staging}";
        }

        foreach (string cover in covers)
        {
            yield return $"mount -t tmpfs -o nosuid,nodev,mode=755,size=64k rpclab-hidden {ShellQuote(cover)}";
        }

        for (int i = 0; i < kept.Length; i++)
        {
            yield return $"mkdir -p {ShellQuote(kept[i])}";
            yield return $"mount --move {ShellQuote(StagingDirectory(i))} {ShellQuote(kept[i])}";
        }

        foreach (string cover in covers)
        {
            yield return $"mount -o remount,ro,nosuid,nodev {ShellQuote(cover)}";
        }

        // The rest, deepest first; one below a cover is hidden already unless it lies in a kept folder.
        foreach (string hidden in HiddenDirectories.Where(hidden => !covers.Contains(hidden)
            && (!covers.Any(cover => IsInside(hidden, cover)) || kept.Any(k => IsInside(hidden, k)))))
        {
            yield return $"mount -t tmpfs -o ro,nosuid,nodev,mode=755,size=4k rpclab-hidden {ShellQuote(hidden)}";
        }
    }

    private static bool IsInside(string path, string directory) =>
        path.StartsWith(directory.TrimEnd('/') + "/", StringComparison.Ordinal);

    private string StagingDirectory(int index) => Path.Combine(Directory, string.Create(CultureInfo.InvariantCulture, $"keep-{index}"));

    /// <summary>The environment of the child runner: its TMPDIR is the submission's scratch folder.</summary>
    public IReadOnlyDictionary<string, string> LaunchEnvironment => new Dictionary<string, string> { ["TMPDIR"] = ScratchDirectory };

    internal async Task BuildAsync(string submissionDirectory, IReadOnlyList<string> hiddenDirectories, IReadOnlyList<string> keptDirectories,
        CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("the sandbox runs on Linux only");
        }

        string uid = Uid.ToString(CultureInfo.InvariantCulture);

        // Folders: the submission's own is entered by root and the uid's group only, so no other
        // submission's uid can look into it; its copy belongs to the uid.
        System.IO.Directory.CreateDirectory(Directory);
        await HostCommand.RunAsync("chown", [$"0:{uid}", Directory], cancellationToken: cancellationToken);
        File.SetUnixFileMode(Directory, RootOnly | UnixFileMode.GroupExecute);
        System.IO.Directory.CreateDirectory(ScratchDirectory);
        System.IO.Directory.CreateDirectory(OutputDirectory);
        File.SetUnixFileMode(OutputDirectory, RootOnly);
        // -P: a symbolic link is copied as a link, never followed (a link to another submission stays a link the uid cannot follow).
        await HostCommand.RunAsync("cp", ["-R", "-P", submissionDirectory.TrimEnd('/') + "/.", CopyDirectory], cancellationToken: cancellationToken);
        await HostCommand.RunAsync("chown", ["-R", "-h", $"{uid}:{uid}", CopyDirectory], cancellationToken: cancellationToken);
        File.SetUnixFileMode(CopyDirectory, RootOnly);

        // The cgroup: the submission's programs together get at most CpuCores of the CPU, so a
        // program that spins cannot slow the other submissions' gradings (and so their verdicts).
        CgroupSet.Create(Cgroup.Path, CgroupSet.Controllers);
        Cgroup.Write("cpu", "cpu.cfs_period_us", "100000");
        Cgroup.Write("cpu", "cpu.cfs_quota_us", ((long)(Limits.CpuCores * 100_000)).ToString(CultureInfo.InvariantCulture));

        // The network: loopback only; with nftables, a route out that ends at the recording rule.
        WatchesConnects = ConnectOutWatch.IsAvailable;
        await IpCommand.BatchAsync(null, [$"netns add {Namespace}"], cancellationToken);
        List<string> links = ["link set lo up"];
        if (WatchesConnects)
        {
            links.AddRange(["link add out0 type veth peer name out1", "link set out0 up", "link set out1 up",
                "route add default dev out0", "route add ::/0 dev out0"]);
        }

        await IpCommand.BatchAsync(Namespace, links, cancellationToken);
        if (WatchesConnects)
        {
            await HostCommand.RunAsync("ip", ["netns", "exec", Namespace, "nft", "-f", "-"], ConnectOutWatch.Ruleset(Uid), cancellationToken);
        }

        HiddenDirectories = [.. WorldWritableDirectories().Concat(hiddenDirectories)
            .Select(Path.GetFullPath).Distinct(StringComparer.Ordinal)
            .OrderByDescending(directory => directory.Length)];
        KeptDirectories = [.. keptDirectories.Select(directory => Path.GetFullPath(directory).TrimEnd('/')).Distinct(StringComparer.Ordinal)];
        for (int i = 0; i < KeptDirectories.Count; i++)
        {
            System.IO.Directory.CreateDirectory(StagingDirectory(i));
        }
    }

    /// <summary>Kills every process of this submission's grading, then removes its cgroups, namespace and folder. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        Cgroup.KillAllAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        Cgroup.Remove();
        IpCommand.Batch(null, [$"netns del {Namespace}"], force: true);
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    /// <summary>One shell word, whatever <paramref name="text"/> holds: <c>'it'\''s'</c>.</summary>
    public static string ShellQuote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    // Where any user may create files: a program confined to its work folder must not write there.
    private static IEnumerable<string> WorldWritableDirectories() =>
        new[] { "/tmp", "/var/tmp", "/dev/shm", "/run/lock" }.Where(directory =>
            OperatingSystem.IsLinux() && System.IO.Directory.Exists(directory) && (File.GetUnixFileMode(directory) & UnixFileMode.OtherWrite) != 0);
}

/// <summary>What the child runner needs to sandbox each program it starts: the uid, the cgroup, the limits.</summary>
/// <param name="Uid">The uid (and gid) the student's programs run as.</param>
/// <param name="CgroupPath">The submission's cgroup below each controller's root; each scenario's groups go below it.</param>
/// <param name="Limits">What each program may use.</param>
/// <param name="WatchedNamespace">The network namespace whose nftables table records attempts to connect out (<see cref="ConnectOutWatch"/>), or null: none are recorded.</param>
internal sealed record SandboxSettings(int Uid, string CgroupPath, SandboxLimits Limits, string? WatchedNamespace);
