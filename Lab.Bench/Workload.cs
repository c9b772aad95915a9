namespace Lab.Bench;

/// <summary>One shape of load the benchmark applies to every target.</summary>
/// <param name="Key">Short name used in the JSON output.</param>
/// <param name="Title">What a reader sees in the table.</param>
/// <param name="Connections">Concurrent callers.</param>
/// <param name="PayloadSize">0 = <c>add(1, 2)</c>; N = <c>echo</c> with N bytes.</param>
/// <param name="NewConnectionPerCall">Connect, call, close for every call.</param>
/// <param name="SampleWorkingSet">Sample the server's working set during the window.</param>
public sealed record Workload(
    string Key,
    string Title,
    int Connections,
    int PayloadSize,
    bool NewConnectionPerCall,
    bool SampleWorkingSet = false)
{
    public const int OneMebibyte = 1024 * 1024;

    public static Workload PersistentOneCaller { get; } =
        new("persistent-1", "persistent, 1 caller, add(1, 2)", 1, 0, false);

    public static Workload PersistentTen { get; } =
        new("persistent-10", "persistent, 10 connections, add(1, 2)", 10, 0, false);

    public static Workload PersistentHundred { get; } =
        new("persistent-100", "persistent, 100 connections, add(1, 2)", 100, 0, false);

    public static Workload PersistentThousand { get; } =
        new("persistent-1000", "persistent, 1,000 connections, add(1, 2)", 1000, 0, false, SampleWorkingSet: true);

    public static Workload EchoOneMebibyte { get; } =
        new("echo-1mib", "persistent, 1 caller, echo(1 MiB)", 1, OneMebibyte, false);

    public static Workload NewConnectionTen { get; } =
        new("new-connection-10", "new connection per call, 10 callers, add(1, 2)", 10, 0, true);

    /// <summary>The raw-wire workloads, in the order they run (the 1,000-connection run before the 1 MiB one,
    /// so the working set it reports is not inflated by megabyte buffers).</summary>
    public static IReadOnlyList<Workload> RawWire { get; } =
    [
        PersistentOneCaller, PersistentTen, PersistentHundred, PersistentThousand, EchoOneMebibyte, NewConnectionTen,
    ];

    /// <summary>The load options for this workload against one server.</summary>
    public LoadOptions ToOptions(string host, int port, BenchSettings settings) => new(
        host,
        port,
        Connections,
        settings.Duration,
        settings.Warmup,
        PayloadSize,
        NewConnectionPerCall,
        settings.CallTimeout);
}

/// <summary>Which program a measurement ran against, and how it was called.</summary>
public enum Target
{
    /// <summary>The floor server, called over the raw wire.</summary>
    Floor,

    /// <summary>Lab.Server at the default logging level, called over the raw wire.</summary>
    Server,

    /// <summary>Lab.Server with logging at Warning, called over the raw wire.</summary>
    ServerWarningLog,

    /// <summary>A second Lab.Server exactly like <see cref="Server"/>: the control for the logging goal's method,
    /// since two identical servers must compare at about 1.0x.</summary>
    ServerTwin,

    /// <summary>Lab.Server called through RpcClient.CallAsync&lt;T&gt;.</summary>
    RpcClientTyped,

    /// <summary>Lab.Server called through RpcClient's dynamic proxy.</summary>
    RpcClientDynamic,
}

/// <summary>How the benchmark runs: window lengths, repetitions and where results go.</summary>
/// <param name="Runs">Runs per workload and target; the table shows their median.</param>
/// <param name="Duration">Measured window of each run.</param>
/// <param name="Warmup">Uncounted calls before each window.</param>
/// <param name="CallTimeout">Deadline of one call.</param>
/// <param name="OutputDirectory">Where latest.md and latest.json are written.</param>
/// <param name="Workloads">Keys of the workloads to run (for example <c>persistent-1</c>); empty runs them all.</param>
public sealed record BenchSettings(int Runs, TimeSpan Duration, TimeSpan Warmup, TimeSpan CallTimeout, string OutputDirectory, IReadOnlySet<string> Workloads);
