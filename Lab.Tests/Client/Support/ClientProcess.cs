using System.Diagnostics;
using System.Text;

namespace Lab.Tests.Client.Support;

/// <summary>
/// Runs the real client program (<c>dotnet Lab.Client.dll ARGS</c>) as a separate process, the way
/// the scenario harness does, collecting its output line by line so a test can wait for a line.
/// The process is killed (by its own handle) if it is still running when the test ends.
/// </summary>
public sealed class ClientProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();
    private readonly Lock _gate = new();
    private readonly ChangeSignal _changed = new();

    private ClientProcess(IEnumerable<string> args)
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

        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, line) => Append(_output, line.Data);
        _process.Exited += (_, _) => _changed.Notify();
        _process.ErrorDataReceived += (_, line) => Append(_error, line.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    public string Error
    {
        get
        {
            lock (_gate)
            {
                return _error.ToString();
            }
        }
    }

    public static ClientProcess Start(params string[] args) => new(args);

    /// <summary>Waits for a line containing <paramref name="text"/>; fails at once if the program ends without printing it.</summary>
    public async Task WaitForOutputAsync(string text)
    {
        await _changed.WaitUntilAsync(
            () => Output.Contains(text, StringComparison.Ordinal) || _process.HasExited,
            $"\"{text}\" in the client's output");
        if (!Output.Contains(text, StringComparison.Ordinal))
        {
            await _process.WaitForExitAsync();
            throw new InvalidOperationException(
                $"the client exited with code {_process.ExitCode} without printing \"{text}\"\n{Output}{Error}");
        }
    }

    /// <summary>Waits for the program to end (and its output to be fully read); returns its exit code.</summary>
    public async Task<int> WaitForExitAsync()
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Unexpected);
        await _process.WaitForExitAsync(deadline.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    // The program as the scenario harness starts it: <repo>/Lab.Client/bin/<Configuration>/net10.0/Lab.Client.dll,
    // built alongside this test project (which references it). The copy next to the test assembly
    // cannot run on its own: this test project's framework supplies some of its dependencies.
    private static string ProgramPath()
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string targetFramework = testOutput.Name;
        string configuration = testOutput.Parent!.Name;
        DirectoryInfo? root = testOutput;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "RpcLab.sln")))
        {
            root = root.Parent;
        }

        return root is null
            ? throw new InvalidOperationException($"no RpcLab.sln above {AppContext.BaseDirectory}")
            : Path.Combine(root.FullName, "Lab.Client", "bin", configuration, targetFramework, "Lab.Client.dll");
    }

    private void Append(StringBuilder target, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            target.Append(line).Append('\n');
        }

        _changed.Notify();
    }
}
