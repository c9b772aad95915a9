using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;
using Lab.Scenarios.Network;

namespace Lab.Scenarios;

/// <summary>The lab network part of a scenario's context: building hosts, running programs on them, faults.</summary>
internal sealed partial class ScenarioContext
{
    private readonly List<string> _namespaces = []; // guarded by itself

    /// <summary>The namespaces of every lab network this scenario built (the runner checks they are gone at the end).</summary>
    public IReadOnlyList<string> Namespaces
    {
        get
        {
            lock (_namespaces)
            {
                return [.. _namespaces];
            }
        }
    }

    /// <summary>The repository the programs were built in (where <c>compose.yaml</c> lives).</summary>
    public string RepositoryRoot => _programs.RepositoryRoot;

    /// <summary>
    /// Builds a lab network owned by this scenario (torn down after its processes are killed, also
    /// on FAIL, timeout and Ctrl+C) and narrates its hosts and addresses.
    /// </summary>
    public async Task<LabNetwork> CreateNetworkAsync(IReadOnlyList<string> hostNames, bool ipv4 = true, bool ipv6 = true)
    {
        LabNetwork network = await LabNetwork.CreateAsync(hostNames, ipv4, ipv6, Cancellation);
        Own(network);
        lock (_namespaces)
        {
            _namespaces.AddRange(network.Namespaces);
        }

        foreach (string leftover in network.RemovedLeftovers)
        {
            Note($"removed {leftover}, a namespace left by a run that is no longer alive");
        }

        Step($"built a lab network of {network.Hosts.Count} hosts on one bridge (in namespace {network.BridgeNamespace}); "
             + $"addresses from {string.Join(" and ", new[] { ipv4 ? LabNetwork.IPv4Range : null, ipv6 ? LabNetwork.IPv6Range : null }.OfType<string>())}, no route out");
        foreach (LabHost host in network.Hosts)
        {
            Note($"    host {host.Name,-10} {host.Addresses}");
        }

        return network;
    }

    /// <summary>
    /// Starts a server on <paramref name="host"/> listening on <paramref name="listen"/>, and waits
    /// for it to say which address it registered with the registry.
    /// </summary>
    public async Task<RunningServer> StartServerOnAsync(LabHost host, string listen, string? name = null)
    {
        RunningServer server = await StartServerAsync(listen, 0, name, host);
        OutputLine line = await server.Process.WaitForLineAsync(RegisteredAs(), StartupTimeout, cancellationToken: Cancellation);
        string advertised = RegisteredAs().Match(line.Text).Groups["address"].Value;
        Step($"{server.Process.Name} listens on {server.Address} and registered itself as {advertised}");
        return server with { Advertised = advertised };
    }

    /// <summary>Applies a fault and narrates it with the time it took effect.</summary>
    public async Task<NetworkFault> ApplyFaultAsync(Func<LabNetwork, CancellationToken, Task<NetworkFault>> apply, LabNetwork network, string story)
    {
        NetworkFault fault = await apply(network, Cancellation);
        Step($"FAULT: {fault.Description} — {story}");
        return fault;
    }

    /// <summary>Heals a fault and narrates it.</summary>
    public async Task HealAsync(NetworkFault fault)
    {
        await fault.HealAsync();
        Step($"HEALED: {fault.Description}");
    }

    // The first registration may time out on a busy machine; the retry then says "reachable again".
    [GeneratedRegex(@"(Registered with registry at \S+|Registry reachable again; registered) as json://(?<address>\S+)")]
    private static partial Regex RegisteredAs();
}
