using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;
using Lab.Scenarios.Network;

namespace Lab.Scenarios;

/// <summary>
/// Everything a scenario works with: starting the real programs, waiting on what they print,
/// checking outcomes, and narrating each step. One context per scenario run.
/// </summary>
/// <remarks>
/// <para>
/// Programs start as <c>dotnet Lab.X.dll ARGS --config &lt;scenario config.ini&gt;</c> inside the
/// scenario's <see cref="ProcessGroup"/>, which the runner disposes in a <c>finally</c>. Their
/// readiness is a line they print (<c>Registry listening on http://H:P</c>,
/// <c>Server listening on H:P</c>); ports are always 0, and the real port is read from that line.
/// </para>
/// <para>
/// Waits: <see cref="StartupTimeout"/> for a program to become ready (a cold .NET start on a busy
/// 2-core machine), <see cref="Unexpected"/> for anything that should happen promptly — generous,
/// because they only bound a failure; a passing run never waits for them to expire.
/// </para>
/// <example>
/// <code>
/// RunningRegistry registry = await context.StartRegistryAsync();
/// RunningServer server = await context.StartServerAsync();
/// ClientRun run = await context.RunClientAsync(["add", "1", "2"]);
/// context.Check(run.ExitCode == 0, "the client's call succeeded");
/// </code>
/// </example>
/// </remarks>
internal sealed partial class ScenarioContext : IDisposable
{
    public static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(45);
    public static readonly TimeSpan Unexpected = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The pace of every scenario's <c>--duration</c> load: each caller starts a call at most every
    /// this many milliseconds. A stall of a tenth of a second already stops ~20 of a caller's calls,
    /// far under the seconds the availability checks allow; back to back, four callers took most of a
    /// core — the core the other programs, and scenarios running beside this one, need.
    /// </summary>
    public const int LoadIntervalMilliseconds = 5;

    private readonly LabPrograms _programs;
    private readonly ProcessGroup _processes;
    private readonly List<IDisposable> _owned = []; // guarded by itself
    private bool _disposed; // guarded by _owned
    private readonly Dictionary<string, int> _nameCounters = []; // guarded by itself: clients start from parallel tasks

    public ScenarioContext(Narrator narrator, LabPrograms programs, ScenarioTimings timings, string workDirectory, ProcessGroup processes, CancellationToken cancellation, ForeignPrograms? foreign = null)
    {
        Foreign = foreign ?? ForeignPrograms.None;
        Narrator = narrator;
        _programs = programs;
        Timings = timings;
        WorkDirectory = workDirectory;
        _processes = processes;
        Cancellation = cancellation;
        Config = new ScenarioConfigFile(Path.Combine(workDirectory, "config.ini"), timings);
    }

    public Narrator Narrator { get; }

    /// <summary>The other implementation's programs that replace ours in this run (none by default).</summary>
    public ForeignPrograms Foreign { get; }

    public ScenarioTimings Timings { get; }

    /// <summary>The config.ini every program of this scenario is started with.</summary>
    public ScenarioConfigFile Config { get; }

    public string WorkDirectory { get; }

    /// <summary>
    /// Where files a teaching assistant should keep (a screenshot) go: the report's folder, named after the
    /// report, when the runner writes one; else the scenario's work directory, deleted at its end.
    /// </summary>
    public string ArtifactPath(string fileName) => (ArtifactPrefix ?? WorkDirectory + Path.DirectorySeparatorChar) + fileName;

    /// <summary>Path prefix for <see cref="ArtifactPath"/>, e.g. <c>scenario-reports/scenarios-20261129-2130-</c>.</summary>
    public string? ArtifactPrefix { get; set; }

    /// <summary>Fires when the scenario times out or the run is interrupted.</summary>
    public CancellationToken Cancellation { get; }

    /// <summary>How long the runner lets this scenario run before it is stopped and counted as FAIL.</summary>
    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromMinutes(2);

    public void Step(string text) => Narrator.Step(text);

    public void Note(string text) => Narrator.Note(text);

    /// <summary>Records a check; a failed one ends the scenario with FAIL and <paramref name="what"/> as the reason.</summary>
    public void Check([DoesNotReturnIf(false)] bool passed, string what, string? whyNot = null)
    {
        Narrator.Check(passed, passed || whyNot is null ? what : $"{what} — {whyNot}");
        if (!passed)
        {
            throw new ScenarioFailedException(whyNot is null ? what : $"{what} — {whyNot}");
        }
    }

    /// <summary>Starts a program in this scenario's process group (on a lab network host, when given) and narrates it.</summary>
    public ManagedProcess Start(LabProgram program, string name, IReadOnlyList<string> arguments, LabHost? onHost = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        string[] fullArguments = [_programs.DllPath(program), .. arguments, "--config", Config.Path];
        // `ip netns exec` enters the namespace and then execs the program itself (no shell, no fork
        // in between): the pid we get is the program's, so signals and kill -9 reach it directly.
        ManagedProcess process = onHost is null
            ? _processes.Start(name, _programs.DotnetHost, fullArguments, environment: environment)
            : _processes.Start(name, "ip", ["netns", "exec", onHost.Namespace, _programs.DotnetHost, .. fullArguments], environment: environment);
        string shownArguments = arguments.Count == 0 ? "(no arguments)" : string.Join(' ', arguments.Select(ShowArgument));
        Step($"started {name} (pid {process.Id}){(onHost is null ? "" : $" on {onHost.Name}")}: {LabPrograms.ProjectName(program)} {shownArguments}");
        return process;
    }

    /// <summary>A fresh name for the next process of a kind: <c>server-1</c>, <c>server-2</c>...</summary>
    public string NextName(string kind)
    {
        lock (_nameCounters)
        {
            int number = _nameCounters.GetValueOrDefault(kind) + 1;
            _nameCounters[kind] = number;
            return $"{kind}-{number}";
        }
    }

    /// <summary>
    /// Starts the registry (port 0 = a free port; a restart passes the old port) and waits for
    /// <c>Registry listening on http://H:P</c>. The port goes into the scenario's config.ini.
    /// </summary>
    public async Task<RunningRegistry> StartRegistryAsync(int port = 0, string name = "registry", LabHost? onHost = null)
    {
        string host = Config.Get("registry:host") ?? "127.0.0.1";
        if (Foreign.Replaces(LabProgram.Registry))
        {
            port = port == 0 ? UnusedPort() : port;
            Config.Set("registry:port", Invariant(port));
            ManagedProcess foreign = await StartForeignAsync(LabProgram.Registry, name, host, port);
            Step($"{name} accepts connections at {host}:{port}; config.ini points servers and clients there");
            return new RunningRegistry(foreign, host, port) { IsForeign = true };
        }

        ManagedProcess process = Start(LabProgram.Registry, name, ["-l", host, "-p", Invariant(port)], onHost);
        OutputLine ready = await process.WaitForLineAsync(ReadyLine.Registry(), StartupTimeout, cancellationToken: Cancellation);
        (string readyHost, int readyPort) = ReadyLine.Address(ReadyLine.Registry(), ready.Text);
        var registry = new RunningRegistry(process, readyHost, readyPort) { OnHost = onHost };
        Config.Set("registry:port", Invariant(registry.Port));
        Step($"{name} is ready at {registry}; config.ini now points servers and clients there");
        return registry;
    }

    /// <summary>Starts a server on <paramref name="host"/> (port 0 = a free port) and waits for <c>Server listening on H:P</c>.</summary>
    public async Task<RunningServer> StartServerAsync(string host = "127.0.0.1", int port = 0, string? name = null, LabHost? onHost = null)
    {
        if (Foreign.Replaces(LabProgram.Server))
        {
            // A foreign server cannot tell us which port it got, so the harness picks a free one.
            port = port == 0 ? UnusedPort(host) : port;
            ManagedProcess foreign = await StartForeignAsync(LabProgram.Server, name ?? NextName("server"), host, port);
            return new RunningServer(foreign, host, port) { IsForeign = true };
        }

        ManagedProcess process = Start(LabProgram.Server, name ?? NextName("server"), ["-l", host, "-p", Invariant(port)], onHost);
        OutputLine ready = await process.WaitForLineAsync(ReadyLine.Server(), StartupTimeout, cancellationToken: Cancellation);
        (string readyHost, int readyPort) = ReadyLine.Address(ReadyLine.Server(), ready.Text);
        return new RunningServer(process, readyHost, readyPort) { OnHost = onHost };
    }

    /// <summary>Waits until the registry logs <c>Registered json://H:P</c> for <paramref name="server"/>.</summary>
    public Task ExpectRegisteredAsync(RunningRegistry registry, RunningServer server, int fromLine = 0) =>
        registry.IsForeign
            ? ExpectListedAsync(Probe(registry), server)
            : ExpectLineAsync(registry.Process, $@"Registered json://{Regex.Escape(server.Address)}\b", $"{registry.Process.Name} registered {server.Process.Name} ({server.Address})", fromLine: fromLine);

    /// <summary>
    /// Waits until <paramref name="server"/> itself logs that it is registered: its registration answered,
    /// or, after a first attempt slower than registry_timeout, <c>Registry reachable again; registered as</c>.
    /// The registry logs the registration before its answer reaches the server, so a story that then takes
    /// the registry away waits for this: until the server has heard the answer, it is still in its first outage.
    /// A foreign server prints what it likes: its log is not read, and the registry's list is the evidence.
    /// </summary>
    public Task ExpectServerSaysRegisteredAsync(RunningServer server, string what)
    {
        if (server.IsForeign)
        {
            return Task.CompletedTask;
        }

        return ExpectLineAsync(server.Process, $@"(Registered with registry at \S+( \S+)? as|Registry reachable again; registered as) json://{Regex.Escape(server.Address)}", what);
    }

    /// <summary>Starts a client process with <paramref name="arguments"/> (registry mode unless they say <c>-m server</c>).</summary>
    public ManagedProcess StartClient(IReadOnlyList<string> arguments, string? name = null, LabHost? onHost = null) =>
        Start(LabProgram.Client, name ?? NextName("client"), arguments, onHost);

    /// <summary>
    /// Starts a client that keeps a paced load on (<see cref="LoadArguments"/>) until <see cref="StopLoadAsync"/>:
    /// the load lasts exactly as long as the scenario's story, however long a busy machine makes it. Its
    /// <c>--duration</c> is the scenario's time limit, only a backstop for a scenario that never stops it.
    /// </summary>
    public ManagedProcess StartLoad(int concurrency, string? name = null, LabHost? onHost = null) =>
        StartClient(LoadArguments((int)Math.Ceiling(TimeLimit.TotalSeconds), concurrency), name, onHost);

    /// <summary>
    /// The story is over: Ctrl+C to each load client of <see cref="StartLoad"/>. Each ends its run as its
    /// duration would (no new call; a call in progress gets its end grace, then counts as failed) and
    /// prints its summary. Returns their exit codes, in order.
    /// </summary>
    public async Task<int[]> StopLoadAsync(params ManagedProcess[] clients)
    {
        Step($"the story is over: Ctrl+C to {string.Join(", ", clients.Select(client => $"{client.Name} (pid {client.Id})"))}; the load stops and {(clients.Length == 1 ? "it prints" : "each prints")} its summary");
        int[] exitCodes = await Task.WhenAll(clients.Select(client => client.InterruptAsync(Unexpected, Cancellation)));
        Step($"{string.Join(", ", clients.Zip(exitCodes, (client, code) => $"{client.Name} exited with code {code}"))}");
        return exitCodes;
    }

    /// <summary>Runs a client to completion and returns its exit code and output.</summary>
    /// <remarks>
    /// A foreign client (<c>--client-command</c>) runs its own calls: it is only told where to go —
    /// <c>{mode}</c> <c>server</c> with the <c>-i</c>/<c>-p</c> of <paramref name="arguments"/> as
    /// <c>{host}</c>/<c>{port}</c>, else <c>registry</c> with the registry's address there.
    /// </remarks>
    public async Task<ClientRun> RunClientAsync(IReadOnlyList<string> arguments, TimeSpan? timeout = null, string? name = null)
    {
        ManagedProcess process = StartAnyClient(arguments, name);
        int exitCode = await process.WaitForExitAsync(timeout ?? Unexpected, Cancellation);
        Step($"{process.Name} exited with code {exitCode}");
        return new ClientRun(process, exitCode) { IsForeign = Foreign.Replaces(LabProgram.Client) };
    }

    /// <summary>Waits for a line matching <paramref name="pattern"/> and records it as a passed check.</summary>
    public async Task<OutputLine> ExpectLineAsync(ManagedProcess process, string pattern, string what, TimeSpan? timeout = null, int fromLine = 0)
    {
        try
        {
            OutputLine line = await process.WaitForLineAsync(new Regex(pattern), timeout ?? Unexpected, fromLine, Cancellation);
            Narrator.Check(true, what);
            return line;
        }
        catch (ScenarioFailedException ex)
        {
            Narrator.Check(false, $"{what} — {ex.Message}");
            throw new ScenarioFailedException($"{what} — {ex.Message}");
        }
    }

    /// <summary>Waits for the exit and checks the code.</summary>
    public async Task ExpectExitCodeAsync(ManagedProcess process, int expected, TimeSpan? timeout = null)
    {
        int exitCode = await process.WaitForExitAsync(timeout ?? Unexpected, Cancellation);
        Check(exitCode == expected, $"{process.Name} exited with code {expected}", $"it exited with {exitCode}");
    }

    /// <summary>A probe of the registry's discovery answer, disposed with the context.</summary>
    public RegistryProbe Probe(RunningRegistry registry)
    {
        var probe = new RegistryProbe(registry.BaseUri, registry.OnHost is null ? new SocketsHttpHandler() : NamespaceSockets.HttpHandler(registry.OnHost));
        Own(probe);
        return probe;
    }

    /// <summary>
    /// Polls findAllInstances until it lists exactly <paramref name="expected"/> (a registry entry
    /// is the event waited for), then records the check.
    /// </summary>
    public async Task ExpectListedAsync(RegistryProbe probe, IEnumerable<RunningServer> expected, string what, TimeSpan? timeout = null)
    {
        string[] want = [.. expected.Select(server => server.ListedAs).Order(StringComparer.Ordinal)];
        IReadOnlyList<string> seen = [];
        bool matched = await PollAsync(async token =>
        {
            try
            {
                seen = await probe.ListedAddressesAsync(token);
            }
            catch (HttpRequestException)
            {
                seen = ["<registry not answering>"];
            }
            catch (TaskCanceledException ex) when (ex.InnerException is TimeoutException)
            {
                // One slow answer (a busy machine) is not the end of the wait: the poll asks again.
                seen = ["<registry not answering in time>"];
            }

            return seen.SequenceEqual(want);
        }, timeout ?? Unexpected);
        string listed = seen.Count == 0 ? "nothing" : string.Join(", ", seen);
        Check(matched, $"{what} (findAllInstances lists {listed})", $"expected {(want.Length == 0 ? "nothing" : string.Join(", ", want))}");
    }

    /// <summary>Re-evaluates <paramref name="condition"/> every 100 ms until true or <paramref name="timeout"/>.</summary>
    public async Task<bool> PollAsync(Func<CancellationToken, Task<bool>> condition, TimeSpan timeout)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        deadline.CancelAfter(timeout);
        try
        {
            while (!await ConditionAsync())
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), deadline.Token);
            }

            return true;
        }
        catch (OperationCanceledException) when (!Cancellation.IsCancellationRequested)
        {
            return false;
        }

        // A timeout inside the condition (an HTTP request a starved registry did not answer within the
        // probe's own timeout) means "not yet", not that the whole wait is over.
        async Task<bool> ConditionAsync()
        {
            try
            {
                return await condition(deadline.Token);
            }
            catch (OperationCanceledException) when (!deadline.IsCancellationRequested)
            {
                return false;
            }
        }
    }

    /// <summary>A port nothing listens on right now at <paramref name="host"/> (for "the registry is down": nothing answers there); see <see cref="FreePorts"/>.</summary>
    public static int UnusedPort(string host = "127.0.0.1") =>
        FreePorts.Pick(IPAddress.TryParse(host, out IPAddress? parsed) ? parsed : IPAddress.Loopback);

    /// <summary>Points config.ini at a registry port where nothing listens (this scenario runs none); returns that port.</summary>
    public int UseNoRegistry()
    {
        int port = UnusedPort();
        Config.Set("registry:port", Invariant(port));
        return port;
    }

    public static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The client arguments of a paced load: <c>--duration S --concurrency N --interval MS</c>.</summary>
    public static string[] LoadArguments(int seconds, int concurrency) =>
        ["--duration", Invariant(seconds), "--concurrency", Invariant(concurrency), "--interval", Invariant(LoadIntervalMilliseconds)];

    public static string Invariant(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>Disposes what the scenario owns (probes, its lab network) — after the runner killed its processes.</summary>
    public void Dispose()
    {
        IDisposable[] owned;
        lock (_owned)
        {
            _disposed = true;
            owned = [.. _owned];
        }

        foreach (IDisposable item in owned)
        {
            item.Dispose();
        }
    }

    // A scenario abandoned after its timeout may still be creating things: what arrives after
    // Dispose is disposed at once instead of being left behind.
    private void Own(IDisposable item)
    {
        lock (_owned)
        {
            if (!_disposed)
            {
                _owned.Add(item);
                return;
            }
        }

        item.Dispose();
        throw new OperationCanceledException("the scenario is over (timed out or interrupted)");
    }

    private string ShowArgument(string argument)
    {
        string shown = argument.StartsWith(_programs.RepositoryRoot, StringComparison.Ordinal) ? Path.GetRelativePath(_programs.RepositoryRoot, argument) : argument;
        return shown.Length > 60 ? $"{shown[..40]}...({shown.Length} chars)" : shown.Contains(' ', StringComparison.Ordinal) ? $"\"{shown}\"" : shown;
    }
}
