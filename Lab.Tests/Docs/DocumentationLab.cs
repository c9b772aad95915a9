using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Lab.Protocol.Discovery;
using Lab.Scenarios.Harness;
using Lab.Testing;

namespace Lab.Tests.Docs;

/// <summary>
/// The programs a group of documented commands runs among, as a student following a page has them:
/// a registry and servers on the page's ports, and a working folder like the repository's root
/// (its <c>config.ini</c>, <c>docs/examples/</c>). Each documented port (9999, 8089...) is really a
/// free port of this run; commands are rewritten to use it and output is rewritten back, so the page
/// and the run agree while runs of the test never collide.
/// </summary>
/// <example>
/// <code>
/// await using DocumentationLab lab = await DocumentationLab.StartAsync("registry, server 8089", programs);
/// IReadOnlyList&lt;string&gt; lines = await lab.RunAsync(["dotnet run --project Lab.ClientApp -- add 1 2"], expected, comparison);
/// </code>
/// </example>
internal sealed partial class DocumentationLab : IAsyncDisposable
{
    /// <summary>The repository root as the pages show it in output (a real run prints its own folder).</summary>
    public const string DocumentedRoot = "/home/student/RpcLab";

    /// <summary>The documentation address (RFC 5737) the pages show for "this machine's address".</summary>
    public const string DocumentedMachineAddress = "192.0.2.2";

    // Ports the pages use: the registry, three servers, and the registry ports of chapter 5's examples.
    private static readonly int[] DocumentedPorts = [9999, 8089, 8090, 8091];

    // How long a long-running program (a registry, a server) may take to print what the page shows.
    // It only bounds a failure: a match ends the wait at once. A .NET program's start on a loaded
    // 2-core machine has been seen to take over 20 s.
    private static readonly TimeSpan LongRunningWait = TimeSpan.FromSeconds(60);

    // How long a command that ends (a client, curl, a short scenario run) may take.
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(120);

    private readonly LabPrograms _programs;
    private readonly Dictionary<int, int> _ports;
    private readonly Dictionary<string, ManagedProcess> _setup = new(StringComparer.Ordinal);

    // The output of every command list that ran to its end, by its commands.
    private readonly Dictionary<string, IReadOnlyList<string>> _finished = new(StringComparer.Ordinal);

    // Released once per line any program of this lab prints: what the waits for output wake on.
    private readonly SemaphoreSlim _printed = new(0);

    private DocumentationLab(LabPrograms programs, string folder, Dictionary<int, int> ports)
    {
        _programs = programs;
        Folder = folder;
        _ports = ports;
    }

    /// <summary>The working folder: a copy of the repository root's config.ini (pointing at this lab's registry) and docs/examples.</summary>
    public string Folder { get; }

    /// <summary>
    /// Creates the folder and starts the <paramref name="setup"/> programs (<c>registry</c>,
    /// <c>server 8089</c>, <c>server 8090 -l ::</c>, comma-separated), each waited for until it is ready.
    /// </summary>
    public static async Task<DocumentationLab> StartAsync(string setup, LabPrograms programs)
    {
        string folder = Directory.CreateTempSubdirectory("rpclab-docs-").FullName;
        // Handed out in the documented ports' order, so a list the registry sorts by port reads as the page does.
        int[] free = [.. DocumentedPorts.Select(_ => FreePort()).Order()];
        Dictionary<int, int> ports = DocumentedPorts.Order().Select((port, index) => (port, index)).ToDictionary(pair => pair.port, pair => free[pair.index]);
        var lab = new DocumentationLab(programs, folder, ports);
        try
        {
            lab.CopyRepositoryFiles();
            foreach (string item in setup.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                await lab.StartSetupProgramAsync(item);
            }

            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="commands"/> one after another in bash, as the page shows them, and returns
    /// their output as the page would show it. A command that starts a registry or a server keeps
    /// running until <paramref name="isComplete"/> says what was printed so far is what the page shows
    /// (or a time limit passed); then the program is stopped.
    /// </summary>
    public async Task<IReadOnlyList<string>> RunAsync(IReadOnlyList<string> commands, Func<IReadOnlyList<string>, bool> isComplete)
    {
        // Two blocks that show parts of one command's output (a long scenario run, say) share its one run.
        string key = string.Join('\n', commands);
        if (_finished.TryGetValue(key, out IReadOnlyList<string>? earlier))
        {
            return earlier;
        }

        var output = new List<string>();
        bool anyLongRunning = false;
        foreach (string command in commands)
        {
            string rewritten = Rewrite(command, quote: "'");
            bool longRunning = LongRunningProgram().IsMatch(rewritten) && !InformationOption().IsMatch(rewritten);
            anyLongRunning |= longRunning;
            await using ManagedProcess process = ManagedProcess.Start("doc", "/bin/bash", ["-c", rewritten], Folder, (_, _) => _printed.Release());
            if (longRunning)
            {
                using var deadline = new CancellationTokenSource(LongRunningWait);
                // A program that exits (a server refused its port, say) prints no line after its last one:
                // its exit wakes the wait too, or the wait would last until the deadline.
                Task exited = process.WaitForExitAsync(LongRunningWait, deadline.Token);
                while (!isComplete([.. output, .. Texts(process)]) && !exited.IsCompleted && !deadline.IsCancellationRequested)
                {
                    // Woken by any new line, of this command or of a setup program (a block may show a setup program's log).
                    await Task.WhenAny(_printed.WaitAsync(deadline.Token), exited);
                }

                // Ends the wait for the exit too; what it ended with (an exit, a cancellation) is not needed.
                await deadline.CancelAsync();
                await exited.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

                output.AddRange(Texts(process));
                await process.TerminateAsync(TimeSpan.FromSeconds(15));
            }
            else
            {
                await process.WaitForExitAsync(CommandTimeout);
                output.AddRange(Texts(process));
            }
        }

        if (!anyLongRunning)
        {
            _finished[key] = output;
        }

        return output;
    }

    /// <summary>
    /// Runs <paramref name="script"/>, the PowerShell twin of a page's commands, in the PowerShell
    /// engine hosted by this process, in this lab's folder, and returns every line it wrote.
    /// </summary>
    public async Task<IReadOnlyList<string>> RunPowerShellAsync(IReadOnlyList<string> script)
    {
        // A twin may set RPCLAB_ variables ($env:...): whatever it leaves behind is undone afterwards.
        using var restore = new EnvironmentRestore("RPCLAB_");
        using Runspace runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        runspace.Open();
        using PowerShell shell = PowerShell.Create(runspace);
        string body = string.Join('\n', script.Select(line => Rewrite(line, quote: "'", powerShell: true)));
        // '*>&1' merges every stream (Write-Host, errors, native commands' output) in the order written.
        shell.AddScript($$"""
            Set-Location -LiteralPath '{{Folder.Replace("'", "''", StringComparison.Ordinal)}}'
            & {
            {{body}}
            } *>&1 | ForEach-Object { "$_" }
            """);
        Task<PSDataCollection<PSObject>> invocation = shell.InvokeAsync();
        if (await Task.WhenAny(invocation, Task.Delay(CommandTimeout)) != invocation)
        {
            await shell.StopAsync(callback: null, state: null);
            throw new TimeoutException($"the PowerShell twin did not finish within {CommandTimeout.TotalSeconds:0} s: {body}");
        }

        return [.. (await invocation).Select(item => item?.ToString() ?? "")
            .SelectMany(item => item.Split('\n')).Select(line => DocumentedText(line.TrimEnd('\r')))];
    }

    /// <summary>
    /// What a setup program (<c>registry</c>, <c>server 8089</c>) printed from line <paramref name="fromLine"/>
    /// on, once it matches <paramref name="expected"/> or a time limit passed.
    /// </summary>
    public async Task<IReadOnlyList<string>> LogAsync(string program, int fromLine, IReadOnlyList<string> expected, OutputComparison comparison)
    {
        using var deadline = new CancellationTokenSource(LongRunningWait);
        while (!comparison.Matches(expected, LogLines(program, fromLine)))
        {
            try
            {
                await _printed.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return LogLines(program, fromLine);
    }

    /// <summary>How many lines the setup program <paramref name="program"/> has printed so far.</summary>
    public int LineCount(string program) => _setup[program].LineCount;

    /// <summary>What the setup program <paramref name="program"/> printed from line <paramref name="fromLine"/> on, as the page shows it.</summary>
    public IReadOnlyList<string> LogLines(string program, int fromLine) => [.. Texts(_setup[program]).Skip(fromLine)];

    public async ValueTask DisposeAsync()
    {
        foreach (ManagedProcess process in _setup.Values.Reverse())
        {
            await process.DisposeAsync();
        }

        _printed.Dispose();

        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>A printed line as the page shows it: this run's ports, folder and address replaced by the page's.</summary>
    public string DocumentedText(string line)
    {
        string text = line.Replace(Folder, DocumentedRoot, StringComparison.Ordinal);
        foreach ((int documented, int actual) in _ports)
        {
            text = Regex.Replace(text, $@"(?<!\d){actual}(?!\d)", documented.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return MachineAddress is { } address ? text.Replace(address, DocumentedMachineAddress, StringComparison.Ordinal) : text;
    }

    // The address a server listening on a wildcard registers: the pages show a documentation address instead.
    private static string? MachineAddress { get; } = HostAddress.ChooseAdvertised("", IPAddress.IPv6Any) is { } chosen && !IPAddress.IsLoopback(IPAddress.Parse(chosen))
        ? chosen
        : null;

    private IEnumerable<string> Texts(ManagedProcess process) => process.Lines.Select(line => DocumentedText(line.Text));

    // A documented command as this lab runs it: `dotnet run --project Lab.X --` becomes the built
    // program (no build, no second copy of the SDK's output), and the page's ports become this lab's.
    private string Rewrite(string command, string quote, bool powerShell = false)
    {
        string rewritten = DotnetRun().Replace(command, match =>
        {
            string project = match.Groups["project"].Value;
            string dll = Path.Combine(_programs.RepositoryRoot, project, "bin", _programs.Configuration, "net10.0", project + ".dll");
            return $"{(powerShell ? "& " : "")}{quote}{_programs.DotnetHost}{quote} {quote}{dll}{quote}";
        });
        foreach ((int documented, int actual) in _ports)
        {
            rewritten = Regex.Replace(rewritten, $@"(?<!\d){documented}(?!\d)", actual.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return rewritten;
    }

    // The files the pages' commands read, relative to the repository root: config.ini (pointing at
    // this lab's registry), the Python examples (at this lab's server port), the Python peer and the rubric.
    private void CopyRepositoryFiles()
    {
        string root = _programs.RepositoryRoot;
        string config = File.ReadAllText(Path.Combine(root, "config.ini"));
        File.WriteAllText(Path.Combine(Folder, "config.ini"), RegistryPortLine().Replace(config, $"port = {_ports[9999]}"));
        foreach (string folder in new[] { Path.Combine("docs", "examples"), Path.Combine("Lab.Tests", "Interop", "python") })
        {
            Directory.CreateDirectory(Path.Combine(Folder, folder));
            foreach (string file in Directory.GetFiles(Path.Combine(root, folder)))
            {
                File.WriteAllText(Path.Combine(Folder, folder, Path.GetFileName(file)), Rewrite(File.ReadAllText(file), quote: "'"));
            }
        }

        Directory.CreateDirectory(Path.Combine(Folder, "Lab.Scenarios"));
        File.Copy(Path.Combine(root, "Lab.Scenarios", "rubric.ini"), Path.Combine(Folder, "Lab.Scenarios", "rubric.ini"));
    }

    // "registry", "server 8089", "server 8090 -l ::", "server 8089 with RPCLAB_LOGGING__LEVEL=debug":
    // the program is known by its first words ("registry", "server 8089"), as log: names it.
    private async Task StartSetupProgramAsync(string item)
    {
        string[] parts = item.Split(" with ", 2, StringSplitOptions.TrimEntries);
        string[] words = parts[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Dictionary<string, string> environment = parts.Length < 2 ? [] : parts[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(setting => setting.Split('=', 2)).ToDictionary(setting => setting[0], setting => setting[1], StringComparer.Ordinal);
        (string name, LabProgram program, string[] arguments, Regex ready) = words[0] switch
        {
            "registry" => ("registry", LabProgram.Registry, new[] { "-p", Port(9999) }, new Regex("Registry listening on")),
            "server" => ($"server {words[1]}", LabProgram.Server,
                ["-p", Port(int.Parse(words[1], System.Globalization.CultureInfo.InvariantCulture)), .. words.Length > 2 ? words[2..] : ["-l", "127.0.0.1"]],
                _setup.ContainsKey("registry") ? new Regex("Registered with registry|Registry unreachable") : new Regex("Server listening on")),
            _ => throw new FormatException($"unknown setup program: {item} (registry, server PORT [-l ADDRESS] [with VARIABLE=value])"),
        };
        ManagedProcess process = ManagedProcess.Start(name, _programs.DotnetHost, [_programs.DllPath(program), .. arguments], Folder, (_, _) => _printed.Release(), environment);
        _setup[name] = process;
        try
        {
            await process.WaitForLineAsync(ready, LongRunningWait);
            if (program == LabProgram.Registry)
            {
                await WarmUpAsync();
            }
        }
        catch (ScenarioFailedException ex)
        {
            throw new InvalidOperationException($"setup program '{item}' did not get ready: {ex.Message}; it printed:\n"
                                                + string.Join('\n', process.Lines.Select(line => "  " + line.Text)), ex);
        }
    }

    // A registry's first answer includes compiling its request path, which on a loaded machine can
    // outlast a server's registry_timeout; a student's registry has long been warm when the next
    // terminal's command runs. One discovery request before anything else starts does the same.
    private async Task WarmUpAsync()
    {
        using var http = new HttpClient { Timeout = LongRunningWait };
        using HttpResponseMessage answer = await http.GetAsync(new Uri($"http://127.0.0.1:{Port(9999)}/myRegistry/findAllInstances?proto=json"));
        answer.EnsureSuccessStatusCode();
    }

    private string Port(int documented) => _ports[documented].ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"dotnet run --project (?<project>Lab\.[A-Za-z.]+)(?: --(?= |$))?")]
    private static partial Regex DotnetRun();

    [GeneratedRegex(@"Lab\.(Registry|Server)\.dll")]
    private static partial Regex LongRunningProgram();

    [GeneratedRegex(@"(?<!\S)(-h|--help|-\?|--version)(?!\S)")]
    private static partial Regex InformationOption();

    [GeneratedRegex(@"(?m)^port = 9999$")]
    private static partial Regex RegistryPortLine();

    /// <summary>Puts back, when disposed, every environment variable with the prefix as it was when created.</summary>
    private sealed class EnvironmentRestore : IDisposable
    {
        private readonly string _prefix;
        private readonly Dictionary<string, string?> _before;

        public EnvironmentRestore(string prefix)
        {
            _prefix = prefix;
            _before = Current(prefix);
        }

        public void Dispose()
        {
            foreach (string name in Current(_prefix).Keys.Where(name => !_before.ContainsKey(name)))
            {
                Environment.SetEnvironmentVariable(name, null);
            }

            foreach ((string name, string? value) in _before)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }

        private static Dictionary<string, string?> Current(string prefix) =>
            Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(name => name.StartsWith(prefix, StringComparison.Ordinal))
                .ToDictionary(name => name, Environment.GetEnvironmentVariable, StringComparer.Ordinal);
    }
}
