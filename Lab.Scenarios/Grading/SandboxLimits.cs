using System.Globalization;

namespace Lab.Scenarios.Grading;

/// <summary>
/// What one program of a submission may use (the sandbox enforces it with cgroups and rlimits) and
/// what the submission's programs together may use of the CPU. A program that breaks a limit fails
/// the scenario with the limit in the reason: "server-1 exceeded 256 MiB of memory".
/// </summary>
/// <remarks>
/// Defaults are sized for the lab: a Python or .NET server under the heaviest scenario
/// (<c>hundred-connections</c>: a thread per connection in a thread-per-connection server) stays far
/// below each of them; a fork bomb or a runaway allocation hits them within a second. The pids
/// controller counts threads as well as processes, so the process limit leaves room for threads.
/// <example>
/// <code>
/// var limits = new SandboxLimits { MemoryMiB = 128, MaxProcesses = 64 };
/// </code>
/// </example>
/// </remarks>
internal sealed record SandboxLimits
{
    /// <summary>Memory of one program and everything it started (cgroup memory.limit_in_bytes), in MiB.</summary>
    public int MemoryMiB { get; init; } = 256;

    /// <summary>Processes and threads one program may have at once (cgroup pids.max).</summary>
    public int MaxProcesses { get; init; } = 256;

    /// <summary>Open files and sockets per process (RLIMIT_NOFILE, via prlimit).</summary>
    public int MaxOpenFiles { get; init; } = 1024;

    /// <summary>CPU time one program may use with everything it started, in seconds (cgroup cpuacct, watched; RLIMIT_CPU a second later as the backstop).</summary>
    public int CpuSeconds { get; init; } = 60;

    /// <summary>How many CPU cores the submission's programs together may keep busy (cgroup cpu.cfs_quota_us).</summary>
    public double CpuCores { get; init; } = 1.0;

    public long MemoryBytes => MemoryMiB * 1024L * 1024L;

    /// <summary>One line for the gradebook and the reports: <c>256 MiB, 256 processes/threads, 60 s CPU per program; 1024 open files per process; 1 core per submission</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{MemoryMiB} MiB, {MaxProcesses} processes/threads, {CpuSeconds} s CPU per program; {MaxOpenFiles} open files per process; {CpuCores:0.##} core(s) per submission");
}
