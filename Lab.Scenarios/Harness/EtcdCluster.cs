using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Lab.Scenarios.Harness;

/// <summary>
/// Real etcd processes (Debian's <c>etcd-server</c>, 3.4) on loopback: one node, or a cluster of
/// three. Each member gets a temporary data directory and its own client and peer ports; disposing
/// kills every member and deletes the directories, whatever happened before.
/// </summary>
/// <remarks>
/// Used by the etcd scenarios and the etcd tests alike. Members are started through
/// <c>startProcess</c>, so a scenario's process group owns them too (killed on timeout or Ctrl+C).
/// A killed member restarts on the same ports and data directory, as an operator would restart it.
/// <example>
/// <code>
/// await using EtcdCluster etcd = await EtcdCluster.StartAsync(3, workDirectory, startProcess, timeout);
/// string endpoints = etcd.ClientEndpoints;   // http://127.0.0.1:P1,http://127.0.0.1:P2,http://127.0.0.1:P3
/// etcd.Kill(0);                              // kill -9 one member
/// </code>
/// </example>
/// </remarks>
internal sealed partial class EtcdCluster : IAsyncDisposable
{
    /// <summary>What to run where etcd is missing.</summary>
    public const string InstallCommand = "apt-get install etcd-server";

    private readonly string _etcd;
    private readonly string _dataRoot;
    private readonly Func<string, string, IEnumerable<string>, ManagedProcess> _startProcess;
    private readonly Member[] _members;

    private EtcdCluster(string etcd, string dataRoot, Func<string, string, IEnumerable<string>, ManagedProcess> startProcess, Member[] members)
    {
        (_etcd, _dataRoot, _startProcess, _members) = (etcd, dataRoot, startProcess, members);
    }

    /// <summary>The members' client URLs, comma-separated: the value of <c>etcd_endpoints</c>.</summary>
    public string ClientEndpoints => string.Join(',', _members.Select(member => member.ClientUrl));

    /// <summary>How many members the cluster has.</summary>
    public int Count => _members.Length;

    /// <summary>The running process of member <paramref name="index"/>.</summary>
    public ManagedProcess Process(int index) => _members[index].Process!;

    /// <summary>Member <paramref name="index"/>'s name, as etcd and the narration know it.</summary>
    public string Name(int index) => _members[index].Name;

    /// <summary>The full path of the <c>etcd</c> program, or null when it is not installed.</summary>
    public static string? FindEtcd() => FindProgram("etcd");

    /// <summary>The full path of <paramref name="name"/> on the PATH, or null.</summary>
    public static string? FindProgram(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);

    /// <summary>Why the etcd scenarios cannot run here, or null when etcd and etcdctl are installed.</summary>
    public static string? Missing() =>
        FindEtcd() is null || FindProgram("etcdctl") is null ? $"etcd is not installed; to run this scenario: {InstallCommand} etcd-client" : null;

    /// <summary>Starts <paramref name="size"/> members and waits until each serves clients.</summary>
    /// <param name="size">1 or 3.</param>
    /// <param name="workDirectory">Where the temporary data directories go.</param>
    /// <param name="startProcess">Starts a process: (name, program, arguments).</param>
    /// <param name="timeout">How long each member may take to become ready.</param>
    /// <exception cref="InvalidOperationException">etcd is not installed.</exception>
    public static async Task<EtcdCluster> StartAsync(int size, string workDirectory, Func<string, string, IEnumerable<string>, ManagedProcess> startProcess, TimeSpan timeout)
    {
        string etcd = FindEtcd() ?? throw new InvalidOperationException($"etcd is not installed: {InstallCommand}");
        string dataRoot = Path.Combine(workDirectory, $"etcd-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dataRoot);
        Member[] members = [.. Enumerable.Range(1, size).Select(i => new Member($"etcd-{i}", FreePorts.Pick(), FreePorts.Pick()))];
        var cluster = new EtcdCluster(etcd, dataRoot, startProcess, members);
        try
        {
            for (int i = 0; i < size; i++)
            {
                cluster.StartMember(i);
            }

            // A member of a cluster is ready only once a majority has started, so start all, then wait.
            for (int i = 0; i < size; i++)
            {
                await cluster.WaitReadyAsync(i, timeout);
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>kill -9 member <paramref name="index"/>: no goodbye to its peers, its data stays on disk.</summary>
    public async Task KillAsync(int index, TimeSpan timeout)
    {
        ManagedProcess process = Process(index);
        process.KillHard();
        await process.WaitForExitAsync(timeout);
    }

    /// <summary>Starts a killed member again, on its ports and data directory, and waits until it serves.</summary>
    public async Task RestartAsync(int index, TimeSpan timeout)
    {
        if (_members[index].Process is { } killed)
        {
            await killed.DisposeAsync();
        }

        StartMember(index);
        await WaitReadyAsync(index, timeout);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (Member member in _members)
        {
            member.Process?.KillHard();
        }

        foreach (Member member in _members)
        {
            if (member.Process is { } process)
            {
                await process.DisposeAsync();
            }
        }

        try
        {
            Directory.Delete(_dataRoot, recursive: true);
        }
        catch (IOException)
        {
            // A member's last write racing the delete; the work directory is temporary anyway.
        }
    }

    private void StartMember(int index)
    {
        Member member = _members[index];
        string cluster = string.Join(',', _members.Select(peer => $"{peer.Name}={peer.PeerUrl}"));
        member.Process = _startProcess(member.Name, _etcd,
        [
            "--name", member.Name,
            "--data-dir", Path.Combine(_dataRoot, member.Name),
            "--listen-client-urls", member.ClientUrl, "--advertise-client-urls", member.ClientUrl,
            "--listen-peer-urls", member.PeerUrl, "--initial-advertise-peer-urls", member.PeerUrl,
            "--initial-cluster", cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", Path.GetFileName(_dataRoot),
        ]);
    }

    private async Task WaitReadyAsync(int index, TimeSpan timeout) =>
        await Process(index).WaitForLineAsync(Ready(), timeout);


    [GeneratedRegex("ready to serve client requests")]
    private static partial Regex Ready();

    private sealed class Member(string name, int clientPort, int peerPort)
    {
        public string Name { get; } = name;

        public string ClientUrl { get; } = $"http://127.0.0.1:{clientPort.ToString(CultureInfo.InvariantCulture)}";

        public string PeerUrl { get; } = $"http://127.0.0.1:{peerPort.ToString(CultureInfo.InvariantCulture)}";

        public ManagedProcess? Process { get; set; }
    }
}
