using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Lab.Tests.Support;

/// <summary>
/// One of the built programs (<c>dotnet Lab.X.dll ARGS</c>) run as a separate process, the way the
/// scenario harness runs it, with its standard output and error captured line by line so a test can
/// await a line. Dispose kills it if it still runs, so no process outlives its test.
/// <code>
/// using LabProcess server = LabProcess.Start("Lab.Server", ["-p", "0", "-l", "127.0.0.1"]);
/// Match ready = await server.WaitForOutputAsync(@"Server listening on 127\.0\.0\.1:(\d+)$");
/// server.Signal(LabProcess.SigTerm);
/// </code>
/// </summary>
public sealed class LabProcess : IDisposable
{
    /// <summary>SIGTERM: what an operator's <c>kill PID</c> or a service manager sends.</summary>
    public const int SigTerm = 15;

    /// <summary>SIGINT: what Ctrl+C in a terminal sends.</summary>
    public const int SigInt = 2;

    private readonly Process _process;
    private readonly string _program;
    private readonly LogRecorder _output = new();
    private readonly LogRecorder _errors = new();

    private LabProcess(Process process, string program)
    {
        _process = process;
        _program = program;
    }

    /// <summary>Standard output, one entry per line.</summary>
    public IReadOnlyList<string> OutputLines => _output.Lines;

    /// <summary>Standard error, one entry per line.</summary>
    public IReadOnlyList<string> ErrorLines => _errors.Lines;

    /// <summary>Standard output as printed: every line ends with <c>\n</c>.</summary>
    public string Output => AsText(OutputLines);

    /// <summary>Standard error as printed: every line ends with <c>\n</c>.</summary>
    public string Error => AsText(ErrorLines);

    /// <summary>Starts <c>dotnet &lt;repo&gt;/<paramref name="program"/>/bin/&lt;Configuration&gt;/net10.0/<paramref name="program"/>.dll ARGS</c>.</summary>
    public static LabProcess Start(string program, IEnumerable<string> arguments, params (string Name, string Value)[] environment) =>
        Start(program, arguments, descriptorLimit: null, environment);

    /// <summary>As the overload above, under <c>prlimit --nofile=N:N</c> when a limit is given.</summary>
    public static LabProcess Start(string program, IEnumerable<string> arguments, int? descriptorLimit, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo(descriptorLimit is null ? "dotnet" : "prlimit")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (descriptorLimit is { } limit)
        {
            start.ArgumentList.Add(FormattableString.Invariant($"--nofile={limit}:{limit}"));
            start.ArgumentList.Add("dotnet");
        }

        start.ArgumentList.Add(ProgramPath(program));
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start };
        var started = new LabProcess(process, program);
        process.OutputDataReceived += (_, line) => started._output.AddLine(line.Data);
        process.ErrorDataReceived += (_, line) => started._errors.AddLine(line.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return started;
    }

    /// <summary>
    /// Waits for a standard-output line matching the regular expression <paramref name="pattern"/> and
    /// returns the match (its groups carry e.g. the port). Fails at once if the program ends without printing it.
    /// </summary>
    public async Task<Match> WaitForOutputAsync(string pattern)
    {
        using var exitedFirst = new CancellationTokenSource();
        Task<string> line = _output.WaitForLineAsync(pattern, cancellationToken: exitedFirst.Token);
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        Task exited = _process.WaitForExitAsync(deadline.Token);
        if (await Task.WhenAny(line, exited) == exited && exited.IsCompletedSuccessfully && !line.IsCompleted)
        {
            // WaitForExitAsync also waited for the output to be read to its end: the line will not come.
            await exitedFirst.CancelAsync();
            throw new InvalidOperationException(
                $"{_program} exited with code {_process.ExitCode} without printing /{pattern}/; stdout:\n{Output}stderr:\n{Error}");
        }

        return Regex.Match(await line, pattern, RegexOptions.CultureInvariant);
    }

    /// <summary>Waits for the process to end and all its output to be read; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Unexpected);
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    /// <summary>Sends a POSIX signal (<see cref="SigTerm"/>, <see cref="SigInt"/>) to the program.</summary>
    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Kills the process (and its children) if it still runs, and waits until it is gone (a test's finally).</summary>
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
    }

    private static string AsText(IReadOnlyList<string> lines) => string.Concat(lines.Select(line => line + "\n"));

    // <repo>/Lab.X/bin/<Configuration>/<framework>/Lab.X.dll, built alongside this test project (which
    // references it). The copy next to the test assembly cannot run on its own: this test project's
    // framework supplies some of its dependencies.
    private static string ProgramPath(string program)
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string framework = testOutput.Name;
        string configuration = testOutput.Parent!.Name;
        DirectoryInfo root = testOutput;
        while (!File.Exists(Path.Combine(root.FullName, "RpcLab.sln")))
        {
            root = root.Parent ?? throw new FileNotFoundException("RpcLab.sln not found above " + AppContext.BaseDirectory);
        }

        string path = Path.Combine(root.FullName, program, "bin", configuration, framework, program + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"build {program} first", path);
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
