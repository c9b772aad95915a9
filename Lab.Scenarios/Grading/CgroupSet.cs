using System.Globalization;

namespace Lab.Scenarios.Grading;

/// <summary>
/// One control group (cgroups v1) in several controller hierarchies at once:
/// <c>/sys/fs/cgroup/&lt;controller&gt;/&lt;Path&gt;</c> for memory, pids, cpu, cpuacct and freezer.
/// The sandbox puts a submission's programs in one to limit them, to read what they used, and to kill
/// every process they started — also the ones that detached.
/// </summary>
/// <remarks>
/// <para>
/// Why the freezer: killing a process tree one pid at a time races a program that forks; by the time
/// the last pid is killed, a new child exists. Freezing the group first stops every task where it
/// stands, so the list read afterwards is complete; each gets SIGKILL, and thawing lets them die.
/// A daemon that double-forked is no longer in anyone's process tree, but it is still in the group.
/// </para>
/// <para>Concurrency: the kernel's files are the state; methods may run from any thread.</para>
/// <example>
/// <code>
/// CgroupSet group = CgroupSet.Create("rpclab-grading-4242/alice", CgroupSet.Controllers);
/// group.Write("memory", "memory.limit_in_bytes", "268435456");
/// // ... start programs that write their pid into group.ProcsFile(controller) ...
/// await group.KillAllAsync(TimeSpan.FromSeconds(10));
/// group.Remove();
/// </code>
/// </example>
/// </remarks>
internal sealed class CgroupSet
{
    public const string Root = "/sys/fs/cgroup";

    /// <summary>The controllers a sandbox uses: limits (memory, pids, cpu), accounting (cpuacct) and kill-everything (freezer).</summary>
    public static readonly IReadOnlyList<string> Controllers = ["memory", "pids", "cpu", "cpuacct", "freezer"];

    public CgroupSet(string path, IReadOnlyList<string> controllers)
    {
        Path = path.Trim('/');
        ControllerNames = controllers;
    }

    /// <summary>The group's path below each controller's root, e.g. <c>rpclab-grading-4242/alice</c>.</summary>
    public string Path { get; }

    public IReadOnlyList<string> ControllerNames { get; }

    /// <summary>Creates the group (and its parents) in every controller.</summary>
    public static CgroupSet Create(string path, IReadOnlyList<string> controllers)
    {
        var group = new CgroupSet(path, controllers);
        foreach (string controller in controllers)
        {
            Directory.CreateDirectory(group.DirectoryOf(controller));
        }

        return group;
    }

    /// <summary>Why cgroups v1 with every controller the sandbox needs is not available here, or null.</summary>
    public static string? UnsupportedReason() =>
        Controllers.FirstOrDefault(controller => !File.Exists($"{Root}/{controller}/cgroup.procs")) is { } missing
            ? $"the cgroup v1 {missing} controller is not mounted at {Root}/{missing}"
            : null;

    /// <summary>A child group, in the same controllers.</summary>
    public CgroupSet Child(string name, IReadOnlyList<string>? controllers = null) =>
        Create($"{Path}/{name}", controllers ?? ControllerNames);

    public string DirectoryOf(string controller) => $"{Root}/{controller}/{Path}";

    /// <summary>The file a process writes its pid into to join the group in <paramref name="controller"/>.</summary>
    public string ProcsFile(string controller) => $"{DirectoryOf(controller)}/cgroup.procs";

    public void Write(string controller, string file, string value) =>
        File.WriteAllText($"{DirectoryOf(controller)}/{file}", value);

    public string Read(string controller, string file) =>
        File.ReadAllText($"{DirectoryOf(controller)}/{file}");

    /// <summary>A number from a one-number file (<c>cpuacct.usage</c>), or from a <c>key value</c> line of a keyed one (<c>pids.events</c>: <c>max</c>); 0 when absent.</summary>
    public long ReadNumber(string controller, string file, string? key = null)
    {
        string path = $"{DirectoryOf(controller)}/{file}";
        if (!File.Exists(path))
        {
            return 0;
        }

        string text = File.ReadAllText(path);
        string? value = key is null
            ? text.Trim()
            : text.Split('\n').Select(line => line.Split(' ', 2)).FirstOrDefault(parts => parts.Length == 2 && parts[0] == key)?[1];
        return long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long number) ? number : 0;
    }

    /// <summary>Every process in the group and its descendants (as the freezer hierarchy sees them).</summary>
    public IReadOnlyList<int> Processes()
    {
        string top = DirectoryOf("freezer");
        if (!Directory.Exists(top))
        {
            return [];
        }

        return [.. Directory.EnumerateFiles(top, "cgroup.procs", SearchOption.AllDirectories)
            .SelectMany(ReadPids)
            .Distinct()
            .Order()];
    }

    /// <summary>
    /// kill -9 of every process in the group and below, without a window for one to fork or escape:
    /// freeze, kill each, thaw; then waits until the group is empty. Returns the pids it killed.
    /// </summary>
    /// <exception cref="TimeoutException">Processes are still in the group after <paramref name="timeout"/> (a task stuck in the kernel).</exception>
    public async Task<IReadOnlyList<int>> KillAllAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (!Directory.Exists(DirectoryOf("freezer")) || Processes().Count == 0)
        {
            return [];
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        Write("freezer", "freezer.state", "FROZEN");
        try
        {
            // FREEZING until every task in the subtree stopped; then nothing can fork any more.
            await WaitUntilAsync(() => Read("freezer", "freezer.state").Trim() == "FROZEN", deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // A task that will not freeze (in uninterruptible sleep) is still killed below: it then dies on its way out of the kernel.
        }

        IReadOnlyList<int> killed = Processes();
        foreach (int pid in killed)
        {
            ProcessSignals.Send(pid, ProcessSignal.Kill);
        }

        Write("freezer", "freezer.state", "THAWED");
        try
        {
            await WaitUntilAsync(() => Processes().Count == 0, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"cgroup {Path}: processes {string.Join(", ", Processes())} still there {timeout.TotalSeconds:0} s after kill -9");
        }

        return killed;
    }

    /// <summary>Removes the group and every group below it from each controller (deepest first). Nothing must run in them.</summary>
    public void Remove()
    {
        foreach (string controller in ControllerNames)
        {
            RemoveTree(DirectoryOf(controller));
        }
    }

    /// <summary>Removes a cgroup directory and its sub-groups; a cgroup's files cannot be deleted, only the directories (rmdir).</summary>
    public static void RemoveTree(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return;
        }

        foreach (string child in Directory.GetDirectories(directory))
        {
            RemoveTree(child);
        }

        try
        {
            Directory.Delete(directory);
        }
        catch (DirectoryNotFoundException)
        {
            // Removed meanwhile by another clean-up of the same run (the Ctrl+C path and the normal one).
        }
    }

    private static IEnumerable<int> ReadPids(string procsFile)
    {
        string text;
        try
        {
            text = File.ReadAllText(procsFile);
        }
        catch (IOException)
        {
            // The group was removed while we listed it.
            return [];
        }

        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => int.Parse(line, NumberStyles.Integer, CultureInfo.InvariantCulture));
    }

    // The kernel offers no event for "group empty" or "frozen" in v1 that is simple to wait on; these
    // states are reached within milliseconds, so a short poll bounded by the deadline is the honest wait.
    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
        }
    }
}
