using System.Globalization;
using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;
using Lab.Scenarios.Network;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// The lab across machines: every program on its own host of a lab network (namespaces on one
/// bridge, addresses from 10.77.0.0/24 and fd00:77::/64), so a server registers the address of its
/// host, not loopback, and clients reach it over a real link.
/// </summary>
internal static class MultiHostScenarios
{
    public static IEnumerable<Scenario> All =>
    [
        new("multi-host-happy-path",
            "compose.yaml run on namespace hosts: registry, servers on 0.0.0.0 and ::, three clients; each server listed with its host's address, calls spread >= 30% each",
            "lab requirements §1: servers on separate machines register their own address; clients load-balance across them",
            HappyPathAsync) { NeedsNetwork = true, MinimumTimeout = TimeSpan.FromSeconds(120) },
        new("multi-host-ten-clients",
            "10 client processes on 10 hosts call rendezvous(group, 10) at once: all succeed only if all 10 are inside the server together",
            "lab requirements §1: at least 10 clients at the same time, from different machines, truly in parallel",
            TenClientsAsync) { NeedsNetwork = true, MinimumTimeout = TimeSpan.FromSeconds(150) },
        new("multi-host-ipv6",
            "the happy path on an IPv6-only network: registry, servers and clients talk over fd00:77::/64 alone",
            "lab requirements §3: IPv4 and IPv6",
            IPv6Async) { NeedsNetwork = true, MinimumTimeout = TimeSpan.FromSeconds(120) },
    ];

    private static async Task HappyPathAsync(ScenarioContext context)
    {
        string composePath = Path.Combine(context.RepositoryRoot, ComposeFile.FileName);
        IReadOnlyList<ComposeService> services = ComposeFile.Load(composePath);
        context.Note($"the hosts, addresses, commands, environment and start order come from {ComposeFile.FileName} ({services.Count} services): "
                     + "the containers, run on namespace hosts since Docker cannot run here");
        LabNetwork network = await context.CreateNetworkAsync([.. services.Select(service => service.Name)]);
        foreach (ComposeService service in services)
        {
            LabHost host = network[service.Name];
            context.Check(service.IPv4 == host.IPv4 && (service.IPv6 is null || service.IPv6 == host.IPv6),
                $"{service.Name}: {ComposeFile.FileName} gives {service.IPv4}, the host has it", $"the host has {host.Addresses}; keep host n at 10.77.0.(10+n) in file order");
        }

        RunningRegistry? registry = null;
        var servers = new List<RunningServer>();
        var clients = new List<ManagedProcess>();
        foreach (ComposeService service in ComposeFile.StartOrder(services))
        {
            LabHost host = network[service.Name];
            string environment = string.Join(' ', service.Environment.Select(pair => $"{pair.Key}={pair.Value}"));
            context.Note($"{service.Name} on {host.Address}, environment {environment}");
            ManagedProcess process = context.Start(service.Program, service.Name, service.Arguments, host, service.Environment);
            switch (service.Program)
            {
                case LabProgram.Registry:
                    await context.ExpectLineAsync(process, "Registry listening on http://", $"{service.Name} is listening", ScenarioContext.StartupTimeout);
                    string port = service.Environment.GetValueOrDefault("RPCLAB_REGISTRY__PORT", "9999");
                    registry = new RunningRegistry(process, host.Address, int.Parse(port, CultureInfo.InvariantCulture)) { OnHost = host };
                    break;
                case LabProgram.Server:
                    OutputLine registered = await context.ExpectLineAsync(process, @"(Registered with registry at \S+|Registry reachable again; registered) as json://\S+",
                        $"{service.Name} registered with the registry at {service.Environment.GetValueOrDefault("RPCLAB_REGISTRY__HOST")} (from RPCLAB_REGISTRY__HOST)", ScenarioContext.StartupTimeout);
                    string advertised = Regex.Match(registered.Text, @"as json://(\S+)").Groups[1].Value;
                    servers.Add(new RunningServer(process, host.Address, 0) { OnHost = host, Advertised = advertised });
                    context.Check(advertised.StartsWith(host.Address + ":", StringComparison.Ordinal),
                        $"{service.Name} (listening on {string.Join(' ', service.Arguments.Take(2))}) registered its host's own address {advertised}, not a loopback or wildcard one");
                    break;
                default:
                    clients.Add(process);
                    break;
            }
        }

        context.Check(registry is not null && servers.Count == 2 && clients.Count >= 1, "the file has a registry, two servers and clients");
        await context.ExpectListedAsync(context.Probe(registry), servers, "discovery (asked from the registry's host) lists both servers at their host addresses");
        int[] exitCodes = await Task.WhenAll(clients.Select(client => client.WaitForExitAsync(ScenarioContext.Unexpected + TimeSpan.FromSeconds(30), context.Cancellation)));
        context.Step($"the {clients.Count} clients exited with codes {string.Join(", ", exitCodes)}");
        CheckSpread(context, clients, servers);
    }

    private static async Task TenClientsAsync(ScenarioContext context)
    {
        context.Config.Set("client:call_timeout", "90");
        context.Config.Set("server:method_timeout", "90");
        // This scenario is about parallel calls, not timeouts: ten cold starts on a busy machine must
        // not lose a client to a 1 s connect timeout (the other nine would then wait for it in vain).
        context.Config.Set("client:connect_timeout", "15");
        context.Config.Set("client:registry_timeout", "15");
        string[] clientHosts = [.. Enumerable.Range(1, 10).Select(n => $"client-{n}")];
        LabNetwork network = await context.CreateNetworkAsync(["registry", "server", .. clientHosts]);
        context.Config.Set("registry:host", network["registry"].Address);
        RunningRegistry registry = await context.StartRegistryAsync(onHost: network["registry"]);
        RunningServer server = await context.StartServerOnAsync(network["server"], "0.0.0.0", "server");
        await context.ExpectListedAsync(context.Probe(registry), [server], "discovery lists the server at its host address");

        context.Note("ten client processes, one per host, each finding the server through the registry and calling rendezvous(\"ten\", 10)");
        ManagedProcess[] clients = [.. clientHosts.Select(name => context.StartClient(["rendezvous", "ten", "10"], name, network[name]))];
        // A client that fails can never join the rendezvous: say so at once instead of waiting for the others' timeout.
        var pending = clients.ToDictionary(client => client.WaitForExitAsync(TimeSpan.FromSeconds(100), context.Cancellation), client => client);
        while (pending.Count > 0)
        {
            Task<int> exited = await Task.WhenAny(pending.Keys);
            ManagedProcess client = pending[exited];
            pending.Remove(exited);
            context.Check(await exited == 0, $"{client.Name} exited with code 0", $"it exited with {await exited}, so the rendezvous of ten cannot complete");
        }

        int[] exitCodes = [.. clients.Select(client => client.ExitCode ?? -1)];
        context.Step($"all ten clients exited: codes {string.Join(", ", exitCodes)}");
        int answered = clients.Count(client => ClientOutput.Calls(client.Lines).Any(call => call.Method == "rendezvous"));
        context.Check(exitCodes.All(code => code == 0) && answered == 10,
            "all 10 rendezvous calls succeeded: the server had the 10 clients' calls inside it at the same time", $"{answered} of 10 printed a result");
        string[] peers = [.. server.Process.LinesMatching(new Regex(@"Connection from (\S+):\d+ opened"))
            .Select(line => Regex.Match(line.Text, @"Connection from (\S+):\d+ opened").Groups[1].Value).Distinct().Order(StringComparer.Ordinal)];
        string[] expected = [.. clientHosts.Select(name => network[name].Address).Order(StringComparer.Ordinal)];
        context.Check(expected.All(peers.Contains), $"the server saw connections from the ten client hosts' own addresses ({string.Join(", ", peers)})",
            $"missing: {string.Join(", ", expected.Except(peers))}");
    }

    private static async Task IPv6Async(ScenarioContext context)
    {
        LabNetwork network = await context.CreateNetworkAsync(["registry", "server-a", "server-b", "client-1", "client-2"], ipv4: false);
        context.Config.Set("registry:host", network["registry"].Address);
        RunningRegistry registry = await context.StartRegistryAsync(onHost: network["registry"]);
        context.Check(registry.Host == network["registry"].IPv6, $"the registry listens on {registry}");
        RunningServer a = await context.StartServerOnAsync(network["server-a"], "::", "server-a");
        RunningServer b = await context.StartServerOnAsync(network["server-b"], network["server-b"].IPv6!, "server-b");
        foreach ((RunningServer server, LabHost host) in new[] { (a, network["server-a"]), (b, network["server-b"]) })
        {
            context.Check(server.ListedAs.StartsWith($"[{host.IPv6}]:", StringComparison.Ordinal), $"{server.Process.Name} (listening on {server.Host}) registered {server.ListedAs}, its host's IPv6 address");
        }

        await context.ExpectListedAsync(context.Probe(registry), [a, b], "discovery lists both servers at their IPv6 addresses");
        ManagedProcess[] clients = [.. new[] { "client-1", "client-2" }.Select(name => context.StartClient(ScenarioContext.LoadArguments(4, 1), name, network[name]))];
        int[] exitCodes = await Task.WhenAll(clients.Select(client => client.WaitForExitAsync(ScenarioContext.Unexpected, context.Cancellation)));
        context.Step($"the clients exited with codes {string.Join(", ", exitCodes)}");
        CheckSpread(context, clients, [a, b]);
    }

    /// <summary>
    /// Every client ended with 0 failed calls, and each server answered at least 30% of all calls.
    /// The clients make one call at a time: with more, a client prefers the server with fewer calls
    /// outstanding and the spread would follow each server's speed on a busy machine, not the strategy.
    /// </summary>
    private static void CheckSpread(ScenarioContext context, IReadOnlyList<ManagedProcess> clients, IReadOnlyList<RunningServer> servers)
    {
        PrintedSummary?[] summaries = [.. clients.Select(client => ClientOutput.Summary(client.Lines))];
        context.Check(summaries.All(summary => summary is { Failed: 0, Succeeded: > 0 }) && clients.All(client => client.ExitCode == 0),
            $"every client exited with code 0 and its summary reports 0 failed calls ({string.Join(", ", summaries.Select(summary => $"{summary?.Succeeded} ok"))})",
            string.Join("; ", clients.Zip(summaries).Select(pair => $"{pair.First.Name}: exit {pair.First.ExitCode}, {pair.Second?.Failed.ToString(CultureInfo.InvariantCulture) ?? "no summary"} failed")));
        long total = summaries.Sum(summary => summary!.Succeeded);
        foreach (RunningServer server in servers)
        {
            long answered = summaries.Sum(summary => summary!.PerServer.TryGetValue(server.ListedAs, out var counts) ? counts.Succeeded : 0);
            double share = total == 0 ? 0 : (double)answered / total;
            context.Check(share >= 0.3, $"{server.Process.Name} ({server.ListedAs}) answered {answered} of {total} calls ({share:P0}, at least 30%)");
        }
    }
}
