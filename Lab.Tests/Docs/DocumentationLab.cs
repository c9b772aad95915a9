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
    private static readonly TimeSpan LongRunningWait = TimeSpan.FromSeconds(20);

    // How long a command that ends (a client, curl) may take.
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private readonly LabPrograms _programs;
    private readonly Dictionary<int, int> _ports;
    private readonly Dictionary<string, ManagedProcess> _setup = new(StringComparer.Ordinal);

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
        Dictionary<int, int> ports = DocumentedPorts.ToDictionary(port => port, _ => FreePort());
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
    /// running: its output is taken once it matches <paramref name="expected"/> (or after a time limit),
    /// then the program is stopped.
    /// </summary>
    public async Task<IReadOnlyList<string>> RunAsync(IReadOnlyList<string> commands, IReadOnlyList<string> expected, OutputComparison comparison)
    {
        var output = new List<string>();
        foreach (string command in commands)
        {
            string rewritten = Rewrite(command, quote: "'");
            bool longRunning = LongRunningProgram().IsMatch(rewritten) && !InformationOption().IsMatch(rewritten);
            var changed = new SemaphoreSlim(0);
            await using ManagedProcess process = ManagedProcess.Start("doc", "/bin/bash", ["-c", rewritten], Folder, (_, _) => changed.Release());
            if (longRunning)
            {
                using var deadline = new CancellationTokenSource(LongRunningWait);
                while (!comparison.Matches(expected, [.. output, .. Texts(process)]) && !process.HasExited)
                {
                    try
                    {
                        await changed.WaitAsync(deadline.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }

                output.AddRange(Texts(process));
                await process.TerminateAsync(TimeSpan.FromSeconds(15));
            }
            else
            {
                await process.WaitForExitAsync(CommandTimeout);
                output.AddRange(Texts(process));
            }
        }

        return output;
    }

    /// <summary>
    /// Runs <paramref name="script"/>, the PowerShell twin of a page's commands, in the PowerShell
    /// engine hosted by this process, in this lab's folder, and returns every line it wrote.
    /// </summary>
    public async Task<IReadOnlyList<string>> RunPowerShellAsync(IReadOnlyList<string> script)
    {
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
        ManagedProcess process = _setup[program];
        using var deadline = new CancellationTokenSource(LongRunningWait);
        while (!comparison.Matches(expected, [.. Texts(process).Skip(fromLine)]) && !deadline.IsCancellationRequested)
        {
            try
            {
                await process.WaitForLineAsync(new Regex("."), LongRunningWait, fromLine: process.LineCount, deadline.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ScenarioFailedException)
            {
                break;
            }
        }

        return [.. Texts(process).Skip(fromLine)];
    }

    /// <summary>How many lines the setup program <paramref name="program"/> has printed so far.</summary>
    public int LineCount(string program) => _setup[program].LineCount;

    public async ValueTask DisposeAsync()
    {
        foreach (ManagedProcess process in _setup.Values.Reverse())
        {
            await process.DisposeAsync();
        }

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

    private void CopyRepositoryFiles()
    {
        string root = _programs.RepositoryRoot;
        string config = File.ReadAllText(Path.Combine(root, "config.ini"));
        File.WriteAllText(Path.Combine(Folder, "config.ini"), RegistryPortLine().Replace(config, $"port = {_ports[9999]}"));
        string examples = Path.Combine(Folder, "docs", "examples");
        Directory.CreateDirectory(examples);
        foreach (string file in Directory.GetFiles(Path.Combine(root, "docs", "examples")))
        {
            File.WriteAllText(Path.Combine(examples, Path.GetFileName(file)), Rewrite(File.ReadAllText(file), quote: "'"));
        }
    }

    private async Task StartSetupProgramAsync(string item)
    {
        string[] words = item.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        (LabProgram program, string[] arguments, Regex ready) = words[0] switch
        {
            "registry" => (LabProgram.Registry, new[] { "-p", Port(9999) }, new Regex("Registry listening on")),
            "server" => (LabProgram.Server, ["-p", Port(int.Parse(words[1], System.Globalization.CultureInfo.InvariantCulture)), .. words.Length > 2 ? words[2..] : ["-l", "127.0.0.1"]],
                _setup.ContainsKey("registry") ? new Regex("Registered with registry|Registry unreachable") : new Regex("Server listening on")),
            _ => throw new FormatException($"unknown setup program: {item} (registry, server PORT [-l ADDRESS])"),
        };
        ManagedProcess process = ManagedProcess.Start(item, _programs.DotnetHost, [_programs.DllPath(program), .. arguments], Folder, onLine: null);
        _setup[item] = process;
        await process.WaitForLineAsync(ready, LongRunningWait);
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
}
