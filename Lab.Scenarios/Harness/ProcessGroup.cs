namespace Lab.Scenarios.Harness;

/// <summary>
/// The processes one scenario started. Disposing the group (always, in a <c>finally</c>) kills any
/// of them still running — after a PASS, a FAIL, or the scenario's own timeout.
/// </summary>
/// <remarks>
/// Concurrency: <see cref="Start"/> may be called from several tasks at once (10 clients started
/// together); the list is guarded by <c>_gate</c>.
/// <example>
/// <code>
/// await using var group = new ProcessGroup(workingDirectory, onLine: narrator.Echo);
/// ManagedProcess registry = group.Start("registry", "dotnet", ["Lab.Registry.dll", "-p", "0"]);
/// // ... the scenario; leaving the block kills whatever still runs.
/// </code>
/// </example>
/// </remarks>
internal sealed class ProcessGroup(string workingDirectory, Action<ManagedProcess, OutputLine>? onLine) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly List<ManagedProcess> _processes = []; // guarded by _gate
    private readonly List<int> _startedIds = []; // guarded by _gate
    private bool _disposed; // guarded by _gate

    /// <summary>The ids of every process this group started, alive or not (the tests check they are all gone).</summary>
    public IReadOnlyList<int> StartedProcessIds
    {
        get
        {
            lock (_gate)
            {
                return [.. _startedIds];
            }
        }
    }

    /// <summary>Every process started through this group.</summary>
    public IReadOnlyList<ManagedProcess> Processes
    {
        get
        {
            lock (_gate)
            {
                return [.. _processes];
            }
        }
    }

    /// <exception cref="ObjectDisposedException">
    /// The group was already disposed: a scenario abandoned after its timeout must not start new processes.
    /// </exception>
    public ManagedProcess Start(string name, string fileName, IEnumerable<string> arguments, string? directory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        // Starting under the lock closes the window where a process could start after the group
        // was disposed and so never be killed.
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ManagedProcess process = ManagedProcess.Start(name, fileName, arguments, directory ?? workingDirectory, onLine, environment);
            _processes.Add(process);
            _startedIds.Add(process.Id);
            return process;
        }
    }

    /// <summary>The processes still running (what disposing will kill).</summary>
    public IReadOnlyList<ManagedProcess> Running() => [.. Processes.Where(process => !process.HasExited)];

    /// <summary>kill -9 of every process still running, newest first, without waiting for them (disposing waits).</summary>
    public void KillAll()
    {
        foreach (ManagedProcess process in Processes.Reverse())
        {
            process.KillHard();
        }
    }

    public async ValueTask DisposeAsync()
    {
        ManagedProcess[] processes;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            processes = [.. _processes];
        }

        // Kill first, all at once, then wait: a hung process must not delay the others' kill.
        // Newest first (clients, then servers, then the registry), so no server is left for a
        // moment logging that its registry vanished.
        KillAll();

        await Task.WhenAll(processes.Select(process => process.DisposeAsync().AsTask()));
    }
}
