using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Lab.Testing;

/// <summary>
/// A program a scenario, a test or the benchmark started as a real OS process: its output recorded line by line, waits on
/// lines (never fixed sleeps), and the three ways to stop it — kill -9, Ctrl+C (SIGINT), SIGTERM.
/// </summary>
/// <remarks>
/// <para>
/// Every instance is tracked by <see cref="ProcessTracker"/> from the moment it starts until it is
/// disposed, so the runner can kill whatever is still alive when a scenario fails, times out or the
/// runner itself is interrupted. Scenarios start processes through their <c>ProcessGroup</c>.
/// </para>
/// <para>
/// Concurrency: the two reader loops append lines under <c>_gate</c>; every public member may be
/// called from any thread. The reader loops are owned by this object and awaited in
/// <see cref="DisposeAsync"/>.
/// </para>
/// <example>
/// <code>
/// await using var server = ManagedProcess.Start("server-1", "dotnet", ["Lab.Server.dll", "-p", "0"], onLine: null);
/// OutputLine ready = await server.WaitForLineAsync(new Regex("Server listening on"), TimeSpan.FromSeconds(20));
/// int exitCode = await server.InterruptAsync(TimeSpan.FromSeconds(10));
/// </code>
/// </example>
/// </remarks>
public sealed class ManagedProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Action<ManagedProcess, OutputLine>? _onLine;
    private readonly Lock _gate = new();
    private readonly List<OutputLine> _lines = []; // guarded by _gate
    private readonly List<LineWaiter> _waiters = []; // guarded by _gate
    private int _streamsEnded; // guarded by _gate
    private bool _outputEnded; // guarded by _gate
    private int _disposed; // 1 once DisposeAsync ran (Interlocked)
    private readonly Task _readers;

    private ManagedProcess(string name, Process process, Action<ManagedProcess, OutputLine>? onLine)
    {
        Name = name;
        _process = process;
        _onLine = onLine;
        Id = process.Id;
        _readers = Task.WhenAll(ReadLinesAsync(process.StandardOutput, isError: false), ReadLinesAsync(process.StandardError, isError: true));
    }

    /// <summary>The name the narration uses: <c>registry</c>, <c>server-1</c>, <c>client-3</c>...</summary>
    public string Name { get; }

    /// <summary>The OS process id.</summary>
    public int Id { get; }

    /// <summary>True once the process exited (or was released: disposing kills it first).</summary>
    public bool HasExited => Volatile.Read(ref _disposed) == 1 || _process.HasExited;

    /// <summary>The exit code once the process has exited, else null (also after it was released).</summary>
    public int? ExitCode => Volatile.Read(ref _disposed) == 0 && _process.HasExited ? _process.ExitCode : null;

    /// <summary>How many lines were recorded so far: pass it as <c>fromLine</c> to wait only for newer lines.</summary>
    public int LineCount
    {
        get
        {
            lock (_gate)
            {
                return _lines.Count;
            }
        }
    }

    /// <summary>A snapshot of every line recorded so far.</summary>
    public IReadOnlyList<OutputLine> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="fileName"/> with redirected streams and begins recording its output;
    /// <paramref name="onLine"/> sees every line as it arrives (the narration's live echo).
    /// </summary>
    public static ManagedProcess Start(string name, string fileName, IEnumerable<string> arguments, string workingDirectory, Action<ManagedProcess, OutputLine>? onLine,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        // A child of a process that ignores SIGINT inherits that (see ProcessSignals.InterruptIgnored): it is
        // then started through `env --default-signal=INT`, which restores the default and execs the program
        // in its place, so the pid is still the program's and Ctrl+C reaches it.
        (fileName, arguments) = ProcessSignals.InterruptIgnored
            ? ("env", ["--default-signal=INT", fileName, .. arguments])
            : (fileName, arguments);
        var startInfo = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // A child must never read the runner's terminal: with stdin redirected (and left
            // empty) it cannot steal the teaching assistant's keystrokes.
            RedirectStandardInput = true,
            WorkingDirectory = workingDirectory,
            CreateNoWindow = true,
        };
        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.Environment["DOTNET_NOLOGO"] = "1";
        startInfo.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        // No diagnostics IPC socket or debugger pipes in the temp folder: the runtime removes them at a
        // clean exit, but the programs this starts are often killed (kill -9, a scenario's clean-up),
        // and each such kill left three files in /tmp. Nothing here attaches a debugger or dotnet-counters.
        startInfo.Environment["DOTNET_EnableDiagnostics"] = "0";
        foreach ((string variable, string value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[variable] = value;
        }

        var process = new Process { StartInfo = startInfo };
        process.Start();
        var managed = new ManagedProcess(name, process, onLine);
        ProcessTracker.Add(managed);
        return managed;
    }

    /// <summary>
    /// Waits until the process prints a line matching <paramref name="pattern"/> (on either stream),
    /// looking at lines from index <paramref name="fromLine"/> on, including ones already printed.
    /// </summary>
    /// <exception cref="ScenarioFailedException">
    /// The timeout passed, or the process ended its output without printing such a line.
    /// </exception>
    public async Task<OutputLine> WaitForLineAsync(Regex pattern, TimeSpan timeout, int fromLine = 0, CancellationToken cancellationToken = default)
    {
        var waiter = new LineWaiter(pattern);
        bool ended;
        lock (_gate)
        {
            for (int i = fromLine; i < _lines.Count; i++)
            {
                if (pattern.IsMatch(_lines[i].Text))
                {
                    return _lines[i];
                }
            }

            ended = _outputEnded;
            if (!ended)
            {
                _waiters.Add(waiter);
            }
        }

        if (ended)
        {
            throw new ScenarioFailedException($"{Name} {DescribeEnd()} without printing a line matching /{pattern}/");
        }

        try
        {
            return await waiter.Completion.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new ScenarioFailedException($"{Name} printed no line matching /{pattern}/ within {timeout.TotalSeconds:0.#} s");
        }
        finally
        {
            lock (_gate)
            {
                _waiters.Remove(waiter);
            }
        }
    }

    /// <summary>Every recorded line matching <paramref name="pattern"/>.</summary>
    public IReadOnlyList<OutputLine> LinesMatching(Regex pattern) => [.. Lines.Where(line => pattern.IsMatch(line.Text))];

    /// <summary>Waits for the process to exit and its output to be fully read; returns the exit code.</summary>
    /// <exception cref="ScenarioFailedException">It is still running after <paramref name="timeout"/>.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            await _process.WaitForExitAsync(cancellationToken).WaitAsync(timeout, cancellationToken);
            // The last lines may still be in the pipe when the exit is reported.
            await _readers.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new ScenarioFailedException($"{Name} (pid {Id}) was still running {timeout.TotalSeconds:0.#} s later");
        }

        return _process.ExitCode;
    }

    /// <summary>kill -9: the process and anything it started die at once, with no chance to clean up.</summary>
    public void KillHard()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            KillTree();
        }
    }

    // Also called by DisposeAsync, which marks the process released before it kills it: that mark must
    // not stop its own kill (it once did, and a disposed program kept running).
    private void KillTree()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited: nothing to kill.
        }
    }

    /// <summary>Sends SIGINT (Ctrl+C) and waits up to <paramref name="timeout"/> for the exit; returns the exit code.</summary>
    public Task<int> InterruptAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        SignalAndWaitAsync(ProcessSignal.Interrupt, timeout, cancellationToken);

    /// <summary>Sends SIGTERM and waits up to <paramref name="timeout"/> for the exit; returns the exit code.</summary>
    public Task<int> TerminateAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        SignalAndWaitAsync(ProcessSignal.Terminate, timeout, cancellationToken);

    /// <summary>Sends any <see cref="ProcessSignal"/> (SIGSTOP to freeze, SIGCONT to resume...) without waiting for anything; nothing once it exited.</summary>
    public void Signal(ProcessSignal signal)
    {
        if (!_process.HasExited)
        {
            ProcessSignals.Send(_process, signal);
        }
    }

    /// <summary>Writes one line to the process's standard input (the client reads phase marks there).</summary>
    public async Task WriteInputLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Kills the process if it is still running, then releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        try
        {
            if (!_process.HasExited)
            {
                KillTree();
            }

            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                await _readers.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                // The kill was sent; an OS that is slow to reap must not hang the runner.
            }
        }
        finally
        {
            ProcessTracker.Remove(this);
            _process.Dispose();
        }
    }

    private async Task<int> SignalAndWaitAsync(ProcessSignal signal, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Signal(signal);
        return await WaitForExitAsync(timeout, cancellationToken);
    }

    private async Task ReadLinesAsync(StreamReader reader, bool isError)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } text)
            {
                var line = new OutputLine(DateTimeOffset.UtcNow, isError, text);
                // Echo before waking waiters, so the narration shows the line before what it caused.
                _onLine?.Invoke(this, line);
                lock (_gate)
                {
                    _lines.Add(line);
                    foreach (LineWaiter waiter in _waiters)
                    {
                        if (waiter.Pattern.IsMatch(text))
                        {
                            waiter.Completion.TrySetResult(line);
                        }
                    }
                }
            }
        }
        catch (IOException)
        {
            // The pipe broke because the process was killed: the output simply ends here.
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            OnStreamEnded();
        }
    }

    private void OnStreamEnded()
    {
        LineWaiter[] pending;
        lock (_gate)
        {
            if (++_streamsEnded < 2)
            {
                return;
            }

            _outputEnded = true;
            pending = [.. _waiters];
        }

        string end = DescribeEnd();
        foreach (LineWaiter waiter in pending)
        {
            waiter.Completion.TrySetException(new ScenarioFailedException($"{Name} {end} without printing a line matching /{waiter.Pattern}/"));
        }
    }

    private string DescribeEnd()
    {
        // Output ends a moment before the exit is reported; the code may not be known yet.
        bool exited = _process.WaitForExit(TimeSpan.FromSeconds(1));
        return exited ? $"exited with code {_process.ExitCode}" : "closed its output";
    }

    private sealed class LineWaiter(Regex pattern)
    {
        public Regex Pattern { get; } = pattern;

        public TaskCompletionSource<OutputLine> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
