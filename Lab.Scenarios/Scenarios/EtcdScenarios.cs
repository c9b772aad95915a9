using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// Discovery on an etcd cluster (<c>[registry] backend = etcd</c>) instead of the registry center:
/// servers hold a key on a lease, clients watch the prefix, and a Raft majority keeps the list.
/// Each scenario starts real etcd members on loopback; where etcd is not installed it is a SKIP.
/// </summary>
internal static class EtcdScenarios
{
    // The lab's registry API is HTTP; here discovery is etcd, which a foreign program does not speak.
    private static readonly IReadOnlyDictionary<LabProgram, string> OnEtcd =
        Scenario.ForEveryProgram("it runs our programs with etcd in place of the registry, and a foreign program speaks the lab's HTTP registry API, not etcd's");

    public static IEnumerable<Scenario> All =>
    [
        new("etcd-happy-path",
            "three etcd members, two servers, a client: calls spread over both servers; etcdctl get --prefix /rpclab shows both keys",
            "lab requirements §4/§6 on etcd: servers register (a key on a lease), clients discover (range read + watch)",
            HappyPathAsync) { MissingPrerequisite = EtcdCluster.Missing, NotGradedBecause = OnEtcd },
        new("etcd-member-killed",
            "kill -9 of one etcd member of three under client load: zero failed calls, no server loses its key",
            "lab requirements §1 on etcd: discovery survives the loss of one store member (a Raft majority remains)",
            MemberKilledAsync) { NeedsPosixSignals = true, MissingPrerequisite = EtcdCluster.Missing, MinimumTimeout = TimeSpan.FromSeconds(120), NotGradedBecause = OnEtcd },
        new("etcd-quorum-lost",
            "kill -9 of two etcd members of three: servers log the outage, clients call on from their cache with zero failures; members restarted, all recovers",
            "lab requirements §1 on etcd: the client survives discovery going away (cache), the servers re-register by themselves",
            QuorumLostAsync) { NeedsPosixSignals = true, MissingPrerequisite = EtcdCluster.Missing, MinimumTimeout = TimeSpan.FromSeconds(150), NotGradedBecause = OnEtcd },
        new("etcd-server-killed",
            "kill -9 of a server under load, with the built-in registry and then with etcd: the time until the last client drops it, side by side",
            "lab requirements §1/§4/§6: dead servers leave discovery (heartbeat timeout vs lease expiry) and every client stops choosing them",
            ServerKilledAsync) { NeedsPosixSignals = true, MissingPrerequisite = EtcdCluster.Missing, MinimumTimeout = TimeSpan.FromSeconds(180), NotGradedBecause = OnEtcd },
    ];

    private static async Task HappyPathAsync(ScenarioContext context)
    {
        EtcdCluster etcd = await context.StartEtcdAsync(3);
        RunningServer[] servers = await StartRegisteredServersAsync(context, 2);

        IReadOnlyList<string> listed = await context.EtcdctlGetAsync(etcd);
        foreach (string line in listed)
        {
            context.Note($"    {line}");
        }

        foreach (RunningServer server in servers)
        {
            context.Check(listed.Contains($"/rpclab/services/json/{server.Address}"), $"etcdctl lists the key /rpclab/services/json/{server.Address}");
        }

        ClientRun run = await context.RunClientAsync(ScenarioContext.LoadArguments(3, 2));
        // "Discovered 2 json instances at etcd ...", or on a slow cold start "Registry reachable again at etcd ...; 2 instances: ...".
        context.Check(run.Lines.Any(line => line.Text.Contains(" at etcd ", StringComparison.Ordinal)
                                            && servers.All(server => line.Text.Contains(server.Address, StringComparison.Ordinal))),
            "the client's discovery read both servers from etcd");
        PrintedSummary? summary = ClientOutput.Summary(run.Lines);
        context.Check(run.ExitCode == 0 && summary is { Failed: 0 }, $"zero failed calls ({summary?.Succeeded} succeeded, exit {run.ExitCode})");
        foreach (RunningServer server in servers)
        {
            long calls = summary!.PerServer.TryGetValue(server.Address, out var counts) ? counts.Succeeded : 0;
            context.Check(calls > 0, $"{server.Process.Name} answered {calls} of the calls: they spread over both");
        }
    }

    private static async Task MemberKilledAsync(ScenarioContext context)
    {
        EtcdCluster etcd = await context.StartEtcdAsync(3);
        RunningServer[] servers = await StartRegisteredServersAsync(context, 2);
        ManagedProcess client = context.StartLoad(4);
        await context.ExpectLineAsync(client, ClientOutput.CallingPattern, "the client is calling (a progress line with calls completed)", timeout: ScenarioContext.StartupTimeout);

        context.Step($"kill -9 {etcd.Name(0)} (pid {etcd.Process(0).Id}); two members of three remain, still a majority");
        await etcd.KillAsync(0, ScenarioContext.Unexpected);
        // The fault must outlast a lease: a lease whose keep-alives went only to the dead member would
        // expire within its TTL after the last one that arrived, at most a heartbeat interval before the kill.
        TimeSpan ttl = context.Timings.Seconds("registry:heartbeat_timeout");
        TimeSpan outlast = ttl + context.Timings.Seconds("server:heartbeat_interval");
        context.Step($"the load goes on for {outlast.TotalSeconds:0.#} s more: the lease TTL ({ttl.TotalSeconds:0.#} s) and a heartbeat interval");
        await Task.Delay(outlast, context.Cancellation);

        int exitCode = (await context.StopLoadAsync(client))[0];
        PrintedSummary? summary = ClientOutput.Summary(client.Lines);
        context.Check(exitCode == 0 && summary is { Failed: 0 }, $"zero failed calls across the member's death ({summary?.Succeeded} succeeded, exit {exitCode})",
            summary is null ? "no summary line" : $"{summary.Failed} failed");
        context.Note($"the run outlived the lease TTL ({ttl.TotalSeconds:0.#} s) after the kill, so the keep-alives went to the surviving members");
        IReadOnlyList<string> listed = await context.EtcdctlGetAsync(etcd);
        foreach (RunningServer server in servers)
        {
            context.Check(listed.Contains($"/rpclab/services/json/{server.Address}")
                          && server.Process.LinesMatching(new Regex("Lease .* expired")).Count == 0,
                $"{server.Process.Name} kept its key and its lease all along");
        }
    }

    private static async Task QuorumLostAsync(ScenarioContext context)
    {
        EtcdCluster etcd = await context.StartEtcdAsync(3);
        RunningServer[] servers = await StartRegisteredServersAsync(context, 2);
        ManagedProcess client = context.StartLoad(4);
        await context.ExpectLineAsync(client, ClientOutput.CallingPattern, "the client is calling (a progress line with calls completed)", timeout: ScenarioContext.StartupTimeout);

        int[] marks = [.. servers.Select(server => server.Process.LineCount)];
        int clientMark = client.LineCount;
        context.Step($"kill -9 {etcd.Name(0)} and {etcd.Name(1)}: one member of three is left, no majority, so etcd can neither read nor write");
        await Task.WhenAll(etcd.KillAsync(0, ScenarioContext.Unexpected), etcd.KillAsync(1, ScenarioContext.Unexpected));
        await RegistryFaultScenarios.ExpectOutageRiddenOutAsync(context, servers, marks, client, clientMark, "Registry unreachable at etcd",
            "logged the outage and keeps serving", "the client logged it too, and keeps its cached servers",
            "without a quorum the client's calls go on from its cache");

        context.Step($"restart {etcd.Name(0)} and {etcd.Name(1)} on their ports and data; no lab program is restarted");
        marks = [.. servers.Select(server => server.Process.LineCount)];
        await Task.WhenAll(etcd.RestartAsync(0, ScenarioContext.StartupTimeout), etcd.RestartAsync(1, ScenarioContext.StartupTimeout));
        for (int i = 0; i < servers.Length; i++)
        {
            await context.ExpectLineAsync(servers[i].Process, "Registry reachable again; registered as", $"{servers[i].Process.Name} is registered again by itself", fromLine: marks[i]);
        }

        await context.ExpectLineAsync(client, "Registry reachable again at etcd", "the client reads and watches etcd again by itself", fromLine: clientMark);
        IReadOnlyList<string> listed = await context.EtcdctlGetAsync(etcd);
        context.Check(servers.All(server => listed.Contains($"/rpclab/services/json/{server.Address}")), "etcdctl lists both servers again");

        int exitCode = (await context.StopLoadAsync(client))[0];
        PrintedSummary? summary = ClientOutput.Summary(client.Lines);
        context.Check(exitCode == 0 && summary is { Failed: 0 }, $"the client finished with zero failed calls ({summary?.Succeeded} succeeded, exit {exitCode})",
            summary is null ? "no summary line" : $"{summary.Failed} failed");
    }

    private static async Task ServerKilledAsync(ScenarioContext context)
    {
        TimeSpan ttl = context.Timings.Seconds("registry:heartbeat_timeout");
        TimeSpan interval = context.Timings.Seconds("server:heartbeat_interval");

        context.Step("part 1: the built-in registry center");
        RunningRegistry registry = await context.StartRegistryAsync();
        RunningServer[] builtinServers = await Task.WhenAll(context.StartServerAsync(), context.StartServerAsync());
        await context.ExpectListedAsync(context.Probe(registry), builtinServers, "both servers are registered");
        TimeSpan builtin = await KillAndTimeLastDropAsync(context, builtinServers, ttl, interval);
        context.Note($"the registry evicts after heartbeat_timeout ({ttl.TotalSeconds:0.#} s, checked every {context.Timings.Seconds("registry:health_check_interval").TotalSeconds:0.#} s); clients learn it at their next poll (every {context.Timings.Seconds("client:poll_interval").TotalSeconds:0.#} s)");
        context.Step("part 1 done: kill -9 its registry and surviving server");
        registry.Process.KillHard();
        builtinServers[0].Process.KillHard();

        context.Step("part 2: etcd, same timings (lease TTL = heartbeat_timeout)");
        await context.StartEtcdAsync(3);
        RunningServer[] etcdServers = await StartRegisteredServersAsync(context, 2);
        TimeSpan etcd = await KillAndTimeLastDropAsync(context, etcdServers, ttl, interval);
        context.Note("etcd deletes the key when the lease runs out; the watch pushes the delete to every client at once, no poll to wait for");

        context.Step($"kill -9 to the last client dropping the server: built-in registry {builtin.TotalSeconds:0.00} s, etcd {etcd.TotalSeconds:0.00} s");
    }

    // Two clients under load; kill -9 one server; the time from the kill until the last client's
    // discovery says it is gone ("removed" in its cache line). Failover has dropped it long before,
    // at the first refused connection; this is the time until discovery itself agrees.
    private static async Task<TimeSpan> KillAndTimeLastDropAsync(ScenarioContext context, RunningServer[] servers, TimeSpan ttl, TimeSpan interval)
    {
        ManagedProcess[] clients = [.. Enumerable.Range(0, 2).Select(_ => context.StartLoad(2))];
        foreach (ManagedProcess client in clients)
        {
            await context.ExpectLineAsync(client, ClientOutput.CallingBothPattern, $"{client.Name} is calling (a progress line with calls completed)", timeout: ScenarioContext.StartupTimeout);
        }

        RunningServer victim = servers[1];
        int[] marks = [.. clients.Select(client => client.LineCount)];
        context.Step($"kill -9 {victim.Process.Name} ({victim.Address}, pid {victim.Process.Id}) under load");
        DateTimeOffset killedAt = DateTimeOffset.Now;
        victim.Process.KillHard();
        TimeSpan last = TimeSpan.Zero;
        for (int i = 0; i < clients.Length; i++)
        {
            // Either a cache update that removes it, or — when a slow read of the list timed out and the
            // next one came after the delete — the list that discovery reads on recovering, without it.
            string victimAddress = Regex.Escape(victim.Address);
            OutputLine dropped = await context.ExpectLineAsync(clients[i], $@"(Server cache updated from .*removed: .*{victimAddress}|Registry reachable again at .*; \d+ instances: (?!.*{victimAddress}))",
                $"{clients[i].Name}'s discovery dropped {victim.Address}", fromLine: marks[i]);
            TimeSpan after = dropped.Time - killedAt;
            context.Step($"{clients[i].Name} dropped it {after.TotalSeconds:0.00} s after the kill");
            last = after > last ? after : last;
        }

        // The entry outlives the last heartbeat (or keep-alive) by the timeout, and that came at most one interval before the kill.
        context.Check(last >= ttl - interval, $"not before the timeout: {last.TotalSeconds:0.00} s >= {(ttl - interval).TotalSeconds:0.#} s");
        int[] exitCodes = await context.StopLoadAsync(clients);
        foreach ((ManagedProcess client, int exitCode) in clients.Zip(exitCodes))
        {
            PrintedSummary? summary = ClientOutput.Summary(client.Lines);
            context.Check(exitCode == 0 && summary is { Failed: 0 }, $"{client.Name}: zero failed calls ({summary?.Succeeded} succeeded, exit {exitCode})",
                summary is null ? "no summary line" : $"{summary.Failed} failed");
        }

        return last;
    }

    private static async Task<RunningServer[]> StartRegisteredServersAsync(ScenarioContext context, int count)
    {
        RunningServer[] servers = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => context.StartServerAsync()));
        foreach (RunningServer server in servers)
        {
            await context.ExpectServerSaysRegisteredAsync(server, $"{server.Process.Name} put its key on a lease in etcd");
        }

        return servers;
    }
}
