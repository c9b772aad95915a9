using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Lab.Scenarios;
using Lab.Scenarios.Harness;
using Lab.Tests.Scenarios;

namespace Lab.Tests.Interop;

/// <summary>
/// The independent peer in <c>Lab.Tests/Interop/python</c> — the lab's server, client and registry
/// written in Python from the lab's documents — and our own programs, started as real processes in
/// one <see cref="ProcessGroup"/> that the test disposes (killing whatever still runs).
/// </summary>
internal sealed class PythonPeer : IAsyncDisposable
{
    private static readonly Lazy<string?> PythonProblem = new(FindPythonProblem);

    private readonly ProcessGroup _processes;

    private PythonPeer(string directory)
    {
        Directory = directory;
        _processes = new ProcessGroup(directory, onLine: null);
        ConfigPath = Path.Combine(directory, "config.ini");
    }

    public static string ScriptDirectory => Path.Combine(ScenarioTestSupport.Programs.RepositoryRoot, "Lab.Tests", "Interop", "python");

    /// <summary>The command templates the scenario runner is given to swap in each peer program.</summary>
    public static ForeignPrograms Commands(LabProgram kind)
    {
        string script = Path.Combine(ScriptDirectory, $"lab_{kind.ToString().ToLowerInvariant()}.py");
        return kind switch
        {
            LabProgram.Registry => new ForeignPrograms($"python3 \"{script}\" -l {{host}} -p {{port}} -c {{config}}", null, null),
            LabProgram.Server => new ForeignPrograms(null, $"python3 \"{script}\" -l {{host}} -p {{port}} -c {{config}}", null),
            _ => new ForeignPrograms(null, null, $"python3 \"{script}\" -m {{mode}} -i {{host}} -p {{port}} -c {{config}}"),
        };
    }

    public string Directory { get; }

    /// <summary>The INI file every program of the test reads (our programs with --config, the peer with -c).</summary>
    public string ConfigPath { get; }

    /// <summary>A fresh peer set-up; the test is ignored, with the reason, where python3 cannot run.</summary>
    public static PythonPeer Start()
    {
        if (PythonProblem.Value is { } problem)
        {
            Assert.Ignore($"the Python peer cannot run here: {problem}");
        }

        // Straight in the temp folder, not under a shared parent that would outlive every run.
        return new PythonPeer(System.IO.Directory.CreateTempSubdirectory("rpclab-interop-").FullName);
    }

    /// <summary>Writes the config: where the registry is, and short heartbeat timings so tests see several heartbeats quickly.</summary>
    public void WriteConfig(int registryPort) => File.WriteAllText(ConfigPath, string.Create(CultureInfo.InvariantCulture, $"""
        [registry]
        host = 127.0.0.1
        port = {registryPort}
        heartbeat_timeout = 1.5
        health_check_interval = 0.3

        [server]
        heartbeat_interval = 0.3
        registry_timeout = 3
        """));

    /// <summary>Starts <c>python3 lab_NAME.py ARGS</c>.</summary>
    public ManagedProcess StartPython(string name, params string[] arguments) =>
        _processes.Start($"python-{name}", "python3", [Path.Combine(ScriptDirectory, $"lab_{name}.py"), .. arguments]);

    /// <summary>Starts our built program (<c>dotnet Lab.X.dll ARGS --config CONFIG</c>).</summary>
    public ManagedProcess StartOurs(LabProgram program, params string[] arguments) =>
        _processes.Start($"our-{program.ToString().ToLowerInvariant()}", ScenarioTestSupport.Programs.DotnetHost,
            [ScenarioTestSupport.Programs.DllPath(program), .. arguments, "--config", ConfigPath]);

    /// <summary>Waits for the <paramref name="count"/>-th line matching <paramref name="pattern"/>.</summary>
    public static async Task<OutputLine> WaitForLineAsync(ManagedProcess process, string pattern, int count = 1)
    {
        var regex = new Regex(pattern);
        OutputLine line = await process.WaitForLineAsync(regex, TestTimeouts.Unexpected);
        for (int seen = 1; seen < count; seen++)
        {
            int after = process.Lines.ToList().IndexOf(line) + 1;
            line = await process.WaitForLineAsync(regex, TestTimeouts.Unexpected, fromLine: after);
        }

        return line;
    }

    public async ValueTask DisposeAsync()
    {
        await _processes.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file held by a dying process: the temp folder is cleaned by the OS.
        }
    }

    private static string? FindPythonProblem()
    {
        try
        {
            using var python = Process.Start(new ProcessStartInfo("python3", "-c \"import http.server, json, socket\"") { RedirectStandardError = true, UseShellExecute = false })!;
            return python.WaitForExit(TestTimeouts.Unexpected) && python.ExitCode == 0 ? null : "python3 -c 'import http.server, json, socket' failed";
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return $"python3 is not installed ({ex.Message})";
        }
    }
}
