using System.Globalization;
using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;
using Lab.Scenarios.Network;

namespace Lab.Scenarios.Grading;

/// <summary>
/// What one class-grading run owns on this machine, under a name that carries its process id
/// (<c>rpclab-grading-&lt;pid&gt;-&lt;n&gt;</c>, n counting the runs of that process): that cgroup in
/// each controller, the directory <c>/run/rpclab-grading-&lt;pid&gt;-&lt;n&gt;</c> (each submission's
/// copy and scratch space) and a block of user ids. Each <see cref="SubmissionSandbox"/> lives inside it.
/// </summary>
/// <remarks>
/// <para>
/// The pid in every name is what makes clean-up after a crash safe: <see cref="RemoveLeftovers"/>
/// removes only what belongs to runs whose process is gone, never what a run still going in
/// parallel (another teaching assistant's, or the test suite's) owns.
/// </para>
/// <para>
/// No user account is created: a submission runs under a numeric uid that no account and no file
/// outside its own copy has (<c>setpriv --reuid</c> needs no entry in /etc/passwd), so there is
/// nothing to delete afterwards and nothing a crash could leave in /etc/passwd.
/// </para>
/// <para>Concurrency: <see cref="Dispose"/> may race a submission's own teardown (Ctrl+C); both tolerate what the other removed.</para>
/// <example>
/// <code>
/// if (SandboxRun.UnsupportedReason() is { } why) Console.WriteLine($"no sandbox: {why}");
/// using var run = SandboxRun.Create();
/// SubmissionSandbox alice = await run.AddAsync(0, "alice", "/class/alice", new SandboxLimits());
/// </code>
/// </example>
/// </remarks>
internal sealed partial class SandboxRun : IDisposable
{
    public const string NamePrefix = "rpclab-grading-";
    public const string RunParent = "/run";

    // Uids far above any account's (Debian's highest is 65534 for nobody) and below 2^31; a run's block
    // is chosen by its pid, so two runs at once never share a uid.
    private const int UidBase = 1_000_000_000;
    private const int UidsPerProcess = 10_000;
    private const int UidsPerRun = 1_000;

    private static int s_sequence;

    private readonly Lock _gate = new();
    private readonly List<SubmissionSandbox> _submissions = []; // guarded by _gate
    private bool _disposed; // guarded by _gate

    private SandboxRun(int ownerPid, int sequence)
    {
        OwnerPid = ownerPid;
        Sequence = sequence;
        Name = string.Create(CultureInfo.InvariantCulture, $"{NamePrefix}{ownerPid}-{sequence}");
        Cgroup = new CgroupSet(Name, CgroupSet.Controllers);
        Directory = Path.Combine(RunParent, Name);
    }

    public int OwnerPid { get; }

    /// <summary>This run's number among the runs of its process (the tests grade several classes in one process).</summary>
    public int Sequence { get; }

    /// <summary><c>rpclab-grading-&lt;pid&gt;-&lt;n&gt;</c>: the run's cgroup and folder name.</summary>
    public string Name { get; }

    /// <summary>The run's cgroup; each submission's is a child of it.</summary>
    public CgroupSet Cgroup { get; }

    /// <summary><c>/run/rpclab-grading-&lt;pid&gt;-&lt;n&gt;</c>: one folder per submission.</summary>
    public string Directory { get; }

    /// <summary>What a previous, crashed run left and <see cref="Create"/> removed.</summary>
    public IReadOnlyList<string> RemovedLeftovers { get; private init; } = [];

    /// <summary>Why submissions cannot be sandboxed here (not Linux, not root, a tool or controller missing), or null.</summary>
    public static string? UnsupportedReason()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "the sandbox is built from Linux namespaces and cgroups";
        }

        if (!Environment.IsPrivilegedProcess)
        {
            return "building it (namespaces, cgroups, another user id) needs root: run the grading with sudo";
        }

        string? tool = new[] { "ip", "nsenter", "unshare", "setpriv", "prlimit", "mount", "cp", "chown" }.FirstOrDefault(name => !HostCommand.Exists(name));
        return tool is not null ? $"the {tool} command is not installed (Debian: util-linux, iproute2, coreutils)" : CgroupSet.UnsupportedReason();
    }

    /// <summary>What an unsandboxed run cannot contain, for the message that says it runs without one.</summary>
    public static string WhatIsNotContained =>
        "each submission runs as you, with this machine's network and files and no limit on memory, processes or CPU: "
        + "nothing stops a hostile one from reading other submissions, connecting anywhere or leaving processes behind";

    /// <summary>Sets up the run's cgroup and directory, after removing what crashed runs left.</summary>
    /// <exception cref="PlatformNotSupportedException">Not on Linux (<see cref="UnsupportedReason"/> says so first).</exception>
    public static SandboxRun Create()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException(UnsupportedReason());
        }

        var run = new SandboxRun(Environment.ProcessId, NextSequence()) { RemovedLeftovers = RemoveLeftovers() };
        CgroupSet.Create(run.Cgroup.Path, CgroupSet.Controllers);
        System.IO.Directory.CreateDirectory(run.Directory);
        File.SetUnixFileMode(run.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        return run;
    }

    /// <summary>A number for the next run of this process (also names an unsandboxed run's folder).</summary>
    public static int NextSequence() => Interlocked.Increment(ref s_sequence);

    /// <summary>The uid submission number <paramref name="index"/> of this run runs as.</summary>
    public int UidFor(int index) => UidBase + (OwnerPid % 100_000 * UidsPerProcess) + (Sequence % (UidsPerProcess / UidsPerRun) * UidsPerRun) + (index % UidsPerRun);

    /// <summary>Whether <paramref name="uid"/> is one this run hands out (the tests look for processes left under one).</summary>
    public bool Owns(long uid) => uid >= UidFor(0) && uid < UidFor(0) + UidsPerRun;

    /// <summary>Whether <paramref name="uid"/> is one any run of process <paramref name="pid"/> hands out.</summary>
    public static bool IsUidOfProcess(long uid, int pid) => uid >= UidBase && (uid - UidBase) / UidsPerProcess == pid % 100_000;

    /// <summary>Builds the sandbox of one submission: its namespace, cgroup, copy and folders.</summary>
    public async Task<SubmissionSandbox> AddAsync(int index, string slug, string submissionDirectory, IReadOnlyList<string> hiddenDirectories, SandboxLimits limits,
        IReadOnlyList<string>? keptDirectories = null, CancellationToken cancellationToken = default)
    {
        var sandbox = new SubmissionSandbox(this, index, slug, limits);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _submissions.Add(sandbox);
        }

        try
        {
            await sandbox.BuildAsync(submissionDirectory, hiddenDirectories, keptDirectories ?? [], cancellationToken);
            return sandbox;
        }
        catch
        {
            sandbox.Dispose();
            throw;
        }
    }

    /// <summary>Everything of the run goes: every process in its cgroup, the cgroups, the namespaces, the folders. Idempotent.</summary>
    public void Dispose()
    {
        SubmissionSandbox[] submissions;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            submissions = [.. _submissions];
        }

        foreach (SubmissionSandbox submission in submissions)
        {
            submission.Dispose();
        }

        RemoveOwned(Name);
    }

    /// <summary>
    /// Removes what runs that are no longer alive left behind (their processes, cgroups, namespaces,
    /// folders); returns a line per thing removed. A run still going is never touched.
    /// </summary>
    public static IReadOnlyList<string> RemoveLeftovers()
    {
        if (!OperatingSystem.IsLinux())
        {
            return [];
        }

        string[] dead = [.. ListAll().Select(Path.GetFileName).OfType<string>()
            .Where(name => OwnerOf(name) is int pid && !System.IO.Directory.Exists($"/proc/{pid}"))
            .Distinct(StringComparer.Ordinal)];
        var removed = new List<string>();
        foreach (string name in dead)
        {
            RemoveOwned(name);
            removed.Add($"{name} (the cgroups and {RunParent} folder of a run that is no longer alive)");
        }

        removed.AddRange(LabNetwork.RemoveLeftovers());
        return removed;
    }

    /// <summary>Every cgroup and folder named after a grading run, whoever owns it (the tests check none is left).</summary>
    public static IReadOnlyList<string> ListAll() =>
        [.. new[] { RunParent }.Concat(CgroupSet.Controllers.Select(controller => $"{CgroupSet.Root}/{controller}"))
            .Where(System.IO.Directory.Exists)
            .SelectMany(System.IO.Directory.GetDirectories)
            .Where(path => OwnerOf(Path.GetFileName(path)) is not null)
            .Order(StringComparer.Ordinal)];

    /// <summary>The pid in a run's name (<c>rpclab-grading-4242-1</c> → 4242), or null for any other name.</summary>
    public static int? OwnerOf(string name)
    {
        Match match = OwnedName().Match(name);
        return match.Success ? int.Parse(match.Groups["pid"].Value, CultureInfo.InvariantCulture) : null;
    }

    // Kill, then remove: a cgroup with a process in it cannot be removed, and its namespace
    // lives on while a process is inside. The network namespaces go with SubmissionSandbox's names.
    private static void RemoveOwned(string name)
    {
        var group = new CgroupSet(name, CgroupSet.Controllers);
        group.KillAllAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        group.Remove();
        string prefix = $"{LabNetwork.NamePrefix}{name[NamePrefix.Length..]}-";
        string[] namespaces = [.. LabNetwork.ListOurNamespaces().Where(ns => ns.StartsWith(prefix, StringComparison.Ordinal) && ns.EndsWith(SubmissionSandbox.NamespaceSuffix, StringComparison.Ordinal))];
        if (namespaces.Length > 0)
        {
            IpCommand.Batch(null, [.. namespaces.Select(ns => $"netns del {ns}")], force: true);
        }

        string directory = Path.Combine(RunParent, name);
        if (System.IO.Directory.Exists(directory))
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
    }

    [GeneratedRegex(@"^rpclab-grading-(?<pid>\d+)-\d+$")]
    private static partial Regex OwnedName();
}
