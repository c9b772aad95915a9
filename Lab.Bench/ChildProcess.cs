using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Lab.Testing;

namespace Lab.Bench;

/// <summary>
/// One of the lab's programs (or the floor) started as a real process, <c>dotnet Lab.X.dll ARGS</c>,
/// through the test kit's <see cref="ManagedProcess"/> (the scenario harness's wrapper): ready when
/// its readiness line appears or its port accepts, stopped with SIGTERM (a graceful stop: the server
/// unregisters) and killed if it does not exit in time.
/// </summary>
/// <remarks>
/// <para>
/// No lab class. Its output is read continuously — a full pipe would block the child's logger and
/// distort the measurement — and the last lines explain a failure.
/// </para>
/// <example>
/// <code>
/// await using ChildProcess server = await ChildProcess.StartAsync("Lab.Server", dll, ["-p", "0"], ReadyLine.Server(), timeout, token);
/// int port = server.Port;                 // from the readiness line's "port" group
/// long? rss = server.ReadWorkingSetBytes();
/// </code>
/// </example>
/// </remarks>
public sealed class ChildProcess : IAsyncDisposable
{
    private const int KeptLines = 30;

    private readonly ManagedProcess _process;

    private ChildProcess(ManagedProcess process) => _process = process;

    public string Name => _process.Name;

    public int Id => _process.Id;

    /// <summary>The port the program listens on: the readiness line's <c>port</c> group, or the probed port.</summary>
    public int Port { get; private set; }

    /// <summary>Lines the program wrote so far (standard output and error).</summary>
    public long LineCount => _process.LineCount;

    /// <summary>The last lines written, for error messages.</summary>
    public string RecentOutput
    {
        get
        {
            IReadOnlyList<OutputLine> lines = _process.Lines;
            return string.Join(Environment.NewLine, lines.Skip(Math.Max(0, lines.Count - KeptLines)).Select(line => line.Text));
        }
    }

    /// <summary>
    /// Starts <c>dotnet DLL ARGS</c> and waits for a line matching <paramref name="readyLine"/>,
    /// whose <c>port</c> group becomes <see cref="Port"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The program exited or stayed silent past <paramref name="readyTimeout"/>.</exception>
    public static Task<ChildProcess> StartAsync(
        string name,
        string dllPath,
        IEnumerable<string> arguments,
        Regex readyLine,
        TimeSpan readyTimeout,
        CancellationToken cancellationToken = default) =>
        StartCoreAsync(name, dllPath, arguments, readyLine, listensOn: null, readyTimeout, cancellationToken);

    /// <summary>
    /// Starts <c>dotnet DLL ARGS</c> and waits until <paramref name="listensOn"/> accepts a connection:
    /// for a program whose readiness line is below its logging level (a server logging at Warning).
    /// </summary>
    /// <exception cref="InvalidOperationException">The program exited or did not listen within <paramref name="readyTimeout"/>.</exception>
    public static Task<ChildProcess> StartListeningAsync(
        string name,
        string dllPath,
        IEnumerable<string> arguments,
        IPEndPoint listensOn,
        TimeSpan readyTimeout,
        CancellationToken cancellationToken = default) =>
        StartCoreAsync(name, dllPath, arguments, readyLine: null, listensOn, readyTimeout, cancellationToken);

    private static async Task<ChildProcess> StartCoreAsync(
        string name,
        string dllPath,
        IEnumerable<string> arguments,
        Regex? readyLine,
        IPEndPoint? listensOn,
        TimeSpan readyTimeout,
        CancellationToken cancellationToken)
    {
        var child = new ChildProcess(ManagedProcess.Start(name, "dotnet", [dllPath, .. arguments], Environment.CurrentDirectory, onLine: null));
        try
        {
            if (readyLine is not null)
            {
                OutputLine ready = await child._process.WaitForLineAsync(readyLine, readyTimeout, cancellationToken: cancellationToken);
                child.Port = ReadyLine.Address(readyLine, ready.Text).Port;
            }
            else
            {
                await child.ProbeAsync(listensOn!, readyTimeout, cancellationToken);
                child.Port = listensOn!.Port;
            }

            return child;
        }
        catch (ScenarioFailedException ex)
        {
            int? exitCode = await ExitCodeSoonAsync(child._process);
            string output = child.RecentOutput;
            await child.DisposeAsync();
            string why = exitCode is { } code ? $"exited with code {code} before it was ready" : $"was not ready within {readyTimeout.TotalSeconds:0} s ({ex.Message})";
            throw new InvalidOperationException($"{name} {why}:{Environment.NewLine}{output}", ex);
        }
        catch
        {
            await child.DisposeAsync();
            throw;
        }
    }

    // A program whose output just ended is usually exiting: give the exit a moment to be reported.
    private static async Task<int?> ExitCodeSoonAsync(ManagedProcess process)
    {
        try
        {
            return await process.WaitForExitAsync(TimeSpan.FromSeconds(5));
        }
        catch (ScenarioFailedException)
        {
            return null;
        }
    }

    // Connects until the port accepts; each refused attempt waits a moment before the next.
    private async Task ProbeAsync(IPEndPoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        TimeSpan retryDelay = TimeSpan.FromMilliseconds(50);
        try
        {
            while (!_process.HasExited)
            {
                using var probe = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await probe.ConnectAsync(endpoint, deadline.Token);
                    return;
                }
                catch (SocketException)
                {
                    await Task.Delay(retryDelay, deadline.Token);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ScenarioFailedException($"{Name} did not listen on {endpoint} within {timeout.TotalSeconds:0} s");
        }

        throw new ScenarioFailedException($"{Name} exited before it listened on {endpoint}");
    }

    /// <summary>
    /// The process's resident set (VmRSS from <c>/proc/PID/status</c>, the working set), in bytes;
    /// null when the process has exited.
    /// </summary>
    public long? ReadWorkingSetBytes()
    {
        if (_process.HasExited)
        {
            return null;
        }

        try
        {
            foreach (string line in File.ReadLines($"/proc/{Id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    string kilobytes = line["VmRSS:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kilobytes, CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
            // Not Linux, or the process is gone: fall back to what .NET reports.
        }

        try
        {
            using var process = Process.GetProcessById(Id);
            return process.HasExited ? null : process.WorkingSet64;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Asks the program to stop (SIGTERM), waits up to <paramref name="grace"/>, then kills it.</summary>
    /// <returns>The exit code, or null when it had to be killed.</returns>
    public async Task<int?> StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return _process.ExitCode;
        }

        try
        {
            return await _process.TerminateAsync(grace);
        }
        catch (ScenarioFailedException)
        {
            _process.KillHard();
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            await _process.DisposeAsync();
        }
    }
}
