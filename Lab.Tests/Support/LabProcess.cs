using System.Text.RegularExpressions;

namespace Lab.Tests.Support;

/// <summary>
/// One of the built programs (<c>dotnet Lab.X.dll ARGS</c>) run as a separate process through the
/// test kit's <see cref="ManagedProcess"/> (the scenario harness's wrapper), with a test's
/// conveniences on top: the program found next to the tests' build, standard output and error as
/// text, a descriptor limit, and no wait longer than <see cref="TestTimeouts.Unexpected"/>. Dispose
/// kills it (and its children) if it still runs, so no process outlives its test.
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

    private readonly ManagedProcess _process;

    private LabProcess(ManagedProcess process) => _process = process;

    /// <summary>Standard output, one entry per line.</summary>
    public IReadOnlyList<string> OutputLines => [.. _process.Lines.Where(line => !line.IsError).Select(line => line.Text)];

    /// <summary>Standard error, one entry per line.</summary>
    public IReadOnlyList<string> ErrorLines => [.. _process.Lines.Where(line => line.IsError).Select(line => line.Text)];

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
        List<string> commandLine = descriptorLimit is { } limit ? [FormattableString.Invariant($"--nofile={limit}:{limit}"), "dotnet"] : [];
        commandLine.Add(ProgramPath(program));
        commandLine.AddRange(arguments);
        return new LabProcess(ManagedProcess.Start(
            program, descriptorLimit is null ? "dotnet" : "prlimit", commandLine, Environment.CurrentDirectory, onLine: null,
            environment.ToDictionary(variable => variable.Name, variable => variable.Value)));
    }

    /// <summary>
    /// Waits for a standard-output line matching the regular expression <paramref name="pattern"/> and
    /// returns the match (its groups carry e.g. the port). Fails at once if the program ends without printing it.
    /// </summary>
    public async Task<Match> WaitForOutputAsync(string pattern)
    {
        var regex = new Regex(pattern, RegexOptions.CultureInvariant);
        try
        {
            OutputLine line = await _process.WaitForLineAsync(regex, TestTimeouts.Unexpected);
            return regex.Match(line.Text);
        }
        catch (ScenarioFailedException ex)
        {
            throw new InvalidOperationException($"{ex.Message}; stdout:\n{Output}stderr:\n{Error}", ex);
        }
    }

    /// <summary>Waits for the process to end and all its output to be read; returns the exit code.</summary>
    public Task<int> WaitForExitAsync() => _process.WaitForExitAsync(TestTimeouts.Unexpected);

    /// <summary>Sends a POSIX signal (<see cref="SigTerm"/>, <see cref="SigInt"/>) to the program.</summary>
    public void Signal(int signal) => _process.Signal(signal == SigInt ? ProcessSignal.Interrupt : ProcessSignal.Terminate);

    /// <summary>Kills the process (and its children) if it still runs, and waits until it is gone (a test's finally).</summary>
    public void Kill() => _process.DisposeAsync().AsTask().GetAwaiter().GetResult();

    public void Dispose() => Kill();

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
}
