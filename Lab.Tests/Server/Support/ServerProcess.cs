using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Lab.Tests.Server.Support;

/// <summary>
/// The built Lab.Server program running as a real process (<c>dotnet Lab.Server.dll ...</c>), as the
/// scenario harness starts it. Its output lines can be awaited; disposing kills it if it still runs.
/// </summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly Lock _gate = new();
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly List<(Regex Pattern, TaskCompletionSource<Match> Found)> _waiters = [];

    private ServerProcess(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ProgramPath);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Add(_stdout, e.Data);
        _process.ErrorDataReceived += (_, e) => Add(_stderr, e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Lab.Server.dll of the same configuration (Debug/Release) as the tests.</summary>
    public static string ProgramPath
    {
        get
        {
            var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            string configuration = testOutput.Parent!.Name;
            DirectoryInfo root = testOutput;
            while (!File.Exists(Path.Combine(root.FullName, "RpcLab.sln")))
            {
                root = root.Parent ?? throw new FileNotFoundException("RpcLab.sln not found above " + AppContext.BaseDirectory);
            }

            return Path.Combine(root.FullName, "Lab.Server", "bin", configuration, testOutput.Name, "Lab.Server.dll");
        }
    }

    public IReadOnlyList<string> StandardError
    {
        get
        {
            lock (_gate)
            {
                return [.. _stderr];
            }
        }
    }

    public string StandardOutput
    {
        get
        {
            lock (_gate)
            {
                return string.Join('\n', _stdout);
            }
        }
    }

    public static ServerProcess Start(params string[] arguments) => new(arguments);

    /// <summary>Waits for a line on standard output matching <paramref name="pattern"/>.</summary>
    public async Task<Match> WaitForOutputAsync(string pattern)
    {
        var regex = new Regex(pattern);
        var found = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            foreach (string line in _stdout)
            {
                if (regex.Match(line) is { Success: true } match)
                {
                    return match;
                }
            }

            _waiters.Add((regex, found));
        }

        try
        {
            return await found.Task.WaitAsync(TestTimeouts.Unexpected);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Lab.Server never printed /{pattern}/; stdout:\n{StandardOutput}\nstderr:\n{string.Join('\n', StandardError)}");
        }
    }

    /// <summary>Sends SIGTERM, as a service manager or <c>kill</c> does.</summary>
    public async Task TerminateAsync()
    {
        using Process kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync(TestTimeouts.UnexpectedToken());
    }

    /// <summary>Waits for the process to end (and its output to be read) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync()
    {
        await _process.WaitForExitAsync(TestTimeouts.UnexpectedToken());
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(TestTimeouts.Unexpected);
            }
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void Add(List<string> lines, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            lines.Add(line);
            if (ReferenceEquals(lines, _stdout))
            {
                _waiters.RemoveAll(waiter =>
                {
                    Match match = waiter.Pattern.Match(line);
                    return match.Success && waiter.Found.TrySetResult(match);
                });
            }
        }
    }
}
