using System.Diagnostics;
using System.Runtime.InteropServices;
using Lab.Tests.Protocol;

namespace Lab.Tests.Registry;

/// <summary>
/// The built <c>Lab.Registry.dll</c> run as a separate process (as the scenario harness runs it), with
/// its output lines captured. Dispose (or <see cref="Kill"/>) makes sure it never outlives the test.
/// </summary>
public sealed class RegistryProcess : IDisposable
{
    private readonly Process _process;
    private readonly string _configPath;
    private readonly CapturedLog _output = new();
    private readonly CapturedLog _errors = new();

    private RegistryProcess(Process process, string configPath)
    {
        _process = process;
        _configPath = configPath;
    }

    public IReadOnlyList<string> Output => _output.Lines;

    public IReadOnlyList<string> Errors => _errors.Lines;

    /// <summary>Starts <c>dotnet Lab.Registry.dll ARGS --config &lt;a test config&gt;</c>.</summary>
    public static RegistryProcess Start(IReadOnlyList<string> args, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ProgramPath());
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        string configPath = WriteTestConfig();
        if (args.Count > 0 && !args.Contains("-h"))
        {
            start.ArgumentList.Add("--config");
            start.ArgumentList.Add(configPath);
        }

        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start };
        var registry = new RegistryProcess(process, configPath);
        process.OutputDataReceived += (_, line) => registry._output.AddLine(line.Data);
        process.ErrorDataReceived += (_, line) => registry._errors.AddLine(line.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return registry;
    }

    /// <summary>Waits for a standard-output line matching the pattern (e.g. the readiness line).</summary>
    public Task<string> WaitForOutputAsync(string pattern) => _output.WaitForLineAsync(pattern);

    /// <summary>Waits for the process to end and all its output to be read; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Unexpected);
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    /// <summary>SIGTERM: what an operator's <c>kill PID</c> or a container stop sends.</summary>
    public const int SigTerm = 15;

    /// <summary>SIGINT: what Ctrl+C in a terminal sends.</summary>
    public const int SigInt = 2;

    /// <summary>Sends a POSIX signal to the program.</summary>
    public void Signal(int signal)
    {
        if (kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Kills the process if it is still running (the test's finally).</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(TestTimeouts.Unexpected);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started, or already gone.
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        File.Delete(_configPath);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    // Lab.Registry/bin/<Configuration>/net10.0/Lab.Registry.dll, next to this test's own bin folder.
    private static string ProgramPath()
    {
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string framework = testBin.Name;
        string configuration = testBin.Parent!.Name;
        DirectoryInfo repository = testBin.Parent!.Parent!.Parent!.Parent!;
        string path = Path.Combine(repository.FullName, "Lab.Registry", "bin", configuration, framework, "Lab.Registry.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("build Lab.Registry first", path);
    }

    // Short, explicit settings, so the repository's config.ini cannot change what the test sees.
    private static string WriteTestConfig()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rpclab-registry-test-{Guid.NewGuid():N}.ini");
        File.WriteAllText(path, "[registry]\nhost = 127.0.0.1\nhealth_check_interval = 1\nheartbeat_timeout = 3\n[logging]\nlevel = information\n");
        return path;
    }
}
