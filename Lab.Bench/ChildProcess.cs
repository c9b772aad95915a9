using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Lab.Bench;

/// <summary>
/// One of the lab's programs (or the floor) started as a real process, <c>dotnet Lab.X.dll ARGS</c>,
/// as the scenario harness starts them: ready when its readiness line appears, stopped with SIGTERM
/// (a graceful stop: the server unregisters) and killed if it does not exit in time.
/// </summary>
/// <remarks>
/// <para>
/// No lab class. Its output is read continuously — a full pipe would block the child's logger and
/// distort the measurement — counted, and the last lines kept to explain a failure.
/// </para>
/// <para>Concurrency: output callbacks run on pool threads; the counters they touch are interlocked or locked.</para>
/// <example>
/// <code>
/// await using ChildProcess server = await ChildProcess.StartAsync("Lab.Server", dll, ["-p", "0"], ServerReady, timeout, token);
/// int port = server.Port;                 // from the readiness line's "port" group
/// long? rss = server.ReadWorkingSetBytes();
/// </code>
/// </example>
/// </remarks>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private const int KeptLines = 30;
    private const int SignalTerminate = 15;

    private readonly Process _process;
    private readonly Regex? _readyLine;
    private readonly TaskCompletionSource<Match> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Guarded by itself.
    private readonly Queue<string> _recentLines = new();
    private long _lineCount;

    private ChildProcess(string name, Process process, Regex? readyLine)
    {
        Name = name;
        _process = process;
        _readyLine = readyLine;
    }

    public string Name { get; }

    public int Id => _process.Id;

    /// <summary>The port the program listens on: the readiness line's <c>port</c> group, or the probed port.</summary>
    public int Port { get; private set; }

    /// <summary>Lines the program wrote so far (standard output and error).</summary>
    public long LineCount => Interlocked.Read(ref _lineCount);

    /// <summary>The last lines written, for error messages.</summary>
    public string RecentOutput
    {
        get
        {
            lock (_recentLines)
            {
                return string.Join(Environment.NewLine, _recentLines);
            }
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
        var startInfo = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add(dllPath);
        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var child = new ChildProcess(name, process, readyLine);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
        process.Exited += (_, _) =>
        {
            // Waiting again lets the output readers reach the end of the streams, so the message
            // below carries the program's last words (its fatal error line).
            try
            {
                process.WaitForExit();
                child._ready.TrySetException(
                    new InvalidOperationException($"{name} exited with code {process.ExitCode} before it was ready:{Environment.NewLine}{child.RecentOutput}"));
            }
            catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
            {
                // Stopped and disposed by us after it was ready (or after a failed start): nothing to report.
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(readyTimeout);
        Task probing = listensOn is null ? Task.CompletedTask : child.ProbeAsync(listensOn, deadline.Token);
        try
        {
            Match ready = await child._ready.Task.WaitAsync(deadline.Token);
            child.Port = listensOn?.Port ?? int.Parse(ready.Groups["port"].Value, CultureInfo.InvariantCulture);
            return child;
        }
        catch (Exception ex)
        {
            await child.DisposeAsync();
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new InvalidOperationException(
                    $"{name} did not print its readiness line within {readyTimeout.TotalSeconds:0} s:{Environment.NewLine}{child.RecentOutput}", ex);
            }

            throw;
        }
        finally
        {
            await deadline.CancelAsync();
            await probing;
        }
    }

    // Connects until the port accepts; each refused attempt waits a moment before the next.
    private async Task ProbeAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        TimeSpan retryDelay = TimeSpan.FromMilliseconds(50);
        try
        {
            while (!_ready.Task.IsCompleted)
            {
                using var probe = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await probe.ConnectAsync(endpoint, cancellationToken);
                    _ready.TrySetResult(Match.Empty);
                    return;
                }
                catch (SocketException)
                {
                    await Task.Delay(retryDelay, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ready by another route, failed, or timed out: the caller reports which.
        }
    }

    /// <summary>
    /// The process's resident set (VmRSS from <c>/proc/PID/status</c>, the working set), in bytes;
    /// null when the process has exited.
    /// </summary>
    public long? ReadWorkingSetBytes()
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{_process.Id}/status"))
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
            _process.Refresh();
            return _process.HasExited ? null : _process.WorkingSet64;
        }
        catch (InvalidOperationException)
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

        if (OperatingSystem.IsWindows() || Kill(_process.Id, SignalTerminate) != 0)
        {
            _process.Kill(entireProcessTree: true);
        }

        using var deadline = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync(TimeSpan.FromSeconds(10));
        }
        catch (InvalidOperationException)
        {
            // Never started: nothing to stop.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        Interlocked.Increment(ref _lineCount);
        lock (_recentLines)
        {
            _recentLines.Enqueue(line);
            if (_recentLines.Count > KeptLines)
            {
                _recentLines.Dequeue();
            }
        }

        if (!_ready.Task.IsCompleted && _readyLine?.Match(line) is { Success: true } match)
        {
            _ready.TrySetResult(match);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
