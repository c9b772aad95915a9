using System.Globalization;
using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;
using Lab.Scenarios.Network;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// Faults only a network has: a server host whose cable is pulled, the registry cut off from the
/// clients or from the servers, clients that can no longer reach one server. The packets vanish
/// silently (no reset, no refusal), so only timeouts, heartbeats and the client's own bookkeeping
/// can tell — which is what the lab's loopback scenarios never show. Each scenario prints the
/// figures a teaching assistant asks for: failed calls, the longest stretch without a completed
/// call, time to evict, time to be listed again, latency before and during the cut.
/// </summary>
internal static class PartitionScenarios
{
    private const int Concurrency = 4;

    // Servers on hosts of their own can be cut off from the registry: the deployment self-preservation is
    // for (config.ini has it off: on one machine there is no partition, only dead servers). Far longer
    // than any cut below, so a cut never outlasts it.
    private const string SelfPreservationLimit = "30";

    // The verdict of the lab's availability rule: throughput never drops to zero for longer.
    private static readonly TimeSpan MaxStall = TimeSpan.FromSeconds(3);

    public static IEnumerable<Scenario> All =>
    [
        new("host-unplugged-failover",
            "under load, server-b's host loses its cable for 8 s: 0 failed calls, no stall over 3 s, evicted after heartbeat_timeout, back and taking load after the heal",
            "lab requirements §1: the client survives a server going away; the registry evicts it by heartbeat timeout",
            HostUnpluggedAsync) { NeedsNetwork = true, MinimumTimeout = TimeSpan.FromSeconds(120) },
        new("registry-partitioned-from-clients",
            "the clients lose the registry for 6 s: they keep calling from their cache (0 failed) and, after the heal, find the server started meanwhile",
            "lab requirements §1: the client survives the registry going away (keeps using its cache)",
            RegistryFromClientsAsync) { NeedsNetwork = true, MinimumTimeout = TimeSpan.FromSeconds(120) },
        new("registry-partitioned-from-servers",
            "the registry loses every server's heartbeats for 6 s but not the clients: self-preservation keeps both listed, evicts nobody, 0 failed calls",
            "lab requirements §1/§5: heartbeat eviction must not empty the registry when the network, not the servers, failed",
            RegistryFromServersAsync) { NeedsNetwork = true, MinimumTimeout = TimeSpan.FromSeconds(120) },
        new("clients-cut-from-one-server",
            "both servers stay registered but the clients can reach only server-a for 8 s: calls fail over (0 failed), and an unreachable server is remembered, so latency stays low",
            "lab requirements §1: failover, load balancing across servers that can be reached",
            ClientsCutFromOneServerAsync) { NeedsNetwork = true, MinimumTimeout = TimeSpan.FromSeconds(120) },
    ];

    private static async Task HostUnpluggedAsync(ScenarioContext context)
    {
        Lab lab = await StartAsync(context, clients: 1);
        ManagedProcess client = lab.Clients[0];
        await WaitTicksAsync(context, client, 2);
        int registryMark = lab.Registry.Process.LineCount;
        int clientMark = client.LineCount;
        NetworkFault unplugged = await context.ApplyFaultAsync((network, token) => network.UnplugAsync(network["server-b"], token), lab.Network,
            "its packets are now lost without an error: calls in flight there can only time out");
        DateTimeOffset cutAt = DateTimeOffset.UtcNow;
        await MarkPhaseAsync(lab, "cut");
        OutputLine evicted = await context.ExpectLineAsync(lab.Registry.Process, $"Evicted json://{Regex.Escape(lab.B.ListedAs)}",
            "the registry evicted server-b (no heartbeat)", fromLine: registryMark);
        TimeSpan evictAfter = evicted.Time - cutAt;
        await WaitTicksAsync(context, client, 8, fromLine: clientMark);

        int healMark = client.LineCount;
        DateTimeOffset healAt = await HealAtAsync(context, lab, unplugged);
        int serverMark = lab.B.Process.LineCount;
        TimeSpan relistedAfter = await ListedAgainAsync(context, client, lab.B, healAt, healMark);
        await context.ExpectLineAsync(lab.B.Process, $@"Connection from {Regex.Escape(lab.Network["client-1"].Address)}:\d+ opened",
            "server-b takes load again: the client opened a connection to it", fromLine: serverMark);
        LoadFigures during = LoadFigures.Of(client, cutAt, healAt);
        await FinishAsync(context, lab, during, [
            $"time to evict: {Seconds(evictAfter)} (heartbeat_timeout {Seconds(context.Timings.Seconds("registry:heartbeat_timeout"))})",
            $"time to be listed again after the heal: {Seconds(relistedAfter)}"]);
        CheckEvictAndReturn(context, evictAfter, relistedAfter);
    }

    private static async Task RegistryFromClientsAsync(ScenarioContext context)
    {
        Lab lab = await StartAsync(context, clients: 2, extraHosts: ["server-c"]);
        await Task.WhenAll(lab.Clients.Select(client => WaitTicksAsync(context, client, 2)));
        int clientMark = lab.Clients[0].LineCount;
        int registryMark = lab.Registry.Process.LineCount;
        NetworkFault cut = await context.ApplyFaultAsync((network, token) => network.PartitionAsync(
            [.. lab.Clients.Select(client => network[client.Name])], [network["registry"]], token), lab.Network,
            "the clients' polls get no answer; servers still heartbeat");
        DateTimeOffset cutAt = DateTimeOffset.UtcNow;
        await MarkPhaseAsync(lab, "cut");
        await context.ExpectLineAsync(lab.Clients[0], "Registry unreachable at .*keeping \\d+ cached instances",
            "client-1 noticed the registry is unreachable and keeps its cached servers", fromLine: clientMark);
        context.Note("meanwhile a third server starts: only the registry knows it, the cut-off clients cannot");
        RunningServer c = await context.StartServerOnAsync(lab.Network["server-c"], "0.0.0.0", "server-c");
        await WaitTicksAsync(context, lab.Clients[0], 6, fromLine: clientMark);

        int healMark = lab.Clients[0].LineCount;
        DateTimeOffset healAt = await HealAtAsync(context, lab, cut);
        await context.ExpectLineAsync(lab.Clients[0], "Registry reachable again", "client-1 reached the registry again", fromLine: clientMark);
        TimeSpan caughtUp = await ListedAgainAsync(context, lab.Clients[0], c, healAt, healMark);
        int evictions = lab.Registry.Process.LinesMatching(new Regex("Evicted")).Count(line => lab.Registry.Process.Lines.ToList().IndexOf(line) >= registryMark);
        LoadFigures during = LoadFigures.Of(lab.Clients[0], cutAt, healAt);
        await FinishAsync(context, lab, during, [$"time to evict: none evicted ({evictions} evictions; the servers kept their heartbeats)",
            $"time for the clients to catch up after the heal (server-c in their cache): {Seconds(caughtUp)}"]);
        context.Check(evictions == 0, "the registry evicted nobody: the servers could still reach it");
    }

    private static async Task RegistryFromServersAsync(ScenarioContext context)
    {
        Lab lab = await StartAsync(context, clients: 2);
        await Task.WhenAll(lab.Clients.Select(client => WaitTicksAsync(context, client, 2)));
        int registryMark = lab.Registry.Process.LineCount;
        int clientMark = lab.Clients[0].LineCount;
        NetworkFault cut = await context.ApplyFaultAsync((network, token) => network.PartitionAsync(
            [network["server-a"], network["server-b"]], [network["registry"]], token), lab.Network,
            "no heartbeat reaches the registry; clients still reach both the registry and the servers");
        DateTimeOffset cutAt = DateTimeOffset.UtcNow;
        await MarkPhaseAsync(lab, "cut");

        // The harness asks the registry (from its own host) all through the cut, as the clients do.
        int smallest = int.MaxValue;
        RegistryProbe probe = context.Probe(lab.Registry);
        int ticksSeen = 0;
        while (ticksSeen < 6 && !context.Cancellation.IsCancellationRequested)
        {
            int count = (await probe.FindAllInstancesAsync(context.Cancellation)).Count;
            smallest = Math.Min(smallest, count);
            ticksSeen = ClientOutput.Progress(lab.Clients[0].Lines.Skip(clientMark)).Count;
            await Task.Delay(TimeSpan.FromMilliseconds(200), context.Cancellation);
        }

        DateTimeOffset healAt = await HealAtAsync(context, lab, cut);
        if (lab.Registry.Process.Lines.Skip(registryMark).Any(line => Regex.IsMatch(line.Text, "(?i)self-preservation on")))
        {
            await context.ExpectLineAsync(lab.Registry.Process, "(?i)self-preservation off", "heartbeats are back: the registry left self-preservation", fromLine: registryMark);
        }

        OutputLine[] registryLines = [.. lab.Registry.Process.Lines.Skip(registryMark)];
        string[] preservation = [.. registryLines.Where(line => Regex.IsMatch(line.Text, "self-preservation", RegexOptions.IgnoreCase)).Select(line => Narrator.StripLogTimestamp(line.Text))];
        int evictions = registryLines.Count(line => line.Text.Contains("Evicted", StringComparison.Ordinal));
        bool emptyAnswer = lab.Clients.Any(client => client.Lines.Skip(clientMark).Any(line => line.Text.Contains("lists no", StringComparison.Ordinal)));
        LoadFigures during = LoadFigures.Of(lab.Clients[0], cutAt, healAt);
        await FinishAsync(context, lab, during, [$"findAllInstances during the cut listed at least {smallest} instance(s); evictions: {evictions}",
            $"the registry said: {(preservation.Length == 0 ? "nothing about self-preservation" : string.Join(" / ", preservation))}"],
            checkFirst: () =>
            {
                // Both servers went silent at the cut, their last heartbeats a fraction of an interval apart.
                // The registry judges them together (one heartbeat interval after the first passed its
                // timeout) and keeps listing them while it judges and while it holds them: both, all
                // through. Checked before the failed calls: an empty or short list would be their cause.
                context.Check(smallest == 2, $"findAllInstances listed both servers all through the cut (smallest answer: {smallest} of 2)",
                    $"{evictions} evictions: a naive registry evicts every server whose heartbeats stop");
                context.Check(evictions == 0, "the registry evicted nobody: servers that go silent together are held, not evicted one at a time");
                context.Check(!emptyAnswer, "no client was ever answered an empty list");
                context.Check(preservation.Length > 0, "the registry logged that it entered self-preservation (and stopped evicting)");
            });
    }

    private static async Task ClientsCutFromOneServerAsync(ScenarioContext context)
    {
        Lab lab = await StartAsync(context, clients: 1);
        ManagedProcess client = lab.Clients[0];
        await WaitTicksAsync(context, client, 3);
        DateTimeOffset startedAt = client.Lines[0].Time;
        DateTimeOffset cutAt = DateTimeOffset.UtcNow;
        LoadFigures before = LoadFigures.Of(client, startedAt, cutAt);
        int clientMark = client.LineCount;
        NetworkFault cut = await context.ApplyFaultAsync((network, token) => network.PartitionAsync([network["client-1"]], [network["server-b"]], token),
            lab.Network, "server-b still heartbeats and stays listed, but nothing from client-1 reaches it");
        cutAt = DateTimeOffset.UtcNow;
        await MarkPhaseAsync(lab, "cut");
        await WaitTicksAsync(context, client, 8, fromLine: clientMark);
        DateTimeOffset healAt = await HealAtAsync(context, lab, cut);
        LoadFigures during = LoadFigures.Of(client, cutAt, healAt);
        context.Check(lab.Registry.Process.LinesMatching(new Regex("Evicted")).Count == 0, "server-b was never evicted: it stayed listed all along");
        await FinishAsync(context, lab, during, [$"calls completed (progress lines) before the cut {before.Rate}, during the cut {during.Rate}"]);
        IReadOnlyList<PrintedPhase> phases = ClientOutput.Phases(client.Lines);
        PrintedPhase? start = phases.FirstOrDefault(phase => phase.Name == "start");
        PrintedPhase? cutPhase = phases.FirstOrDefault(phase => phase.Name == "cut");
        context.Check(start is not null && cutPhase is not null, "the client printed its figures for the phases before and during the cut");
        context.Note($"latency before the cut: p50 {start.P50Milliseconds:0.00} ms, p99 {start.P99Milliseconds:0.00} ms; during the cut: p50 {cutPhase.P50Milliseconds:0.00} ms, p99 {cutPhase.P99Milliseconds:0.00} ms");
        TimeSpan connectTimeout = context.Timings.Seconds("client:connect_timeout");
        context.Check(cutPhase.P50Milliseconds < connectTimeout.TotalMilliseconds / 10,
            $"during the cut the median call ({cutPhase.P50Milliseconds:0.00} ms) does not wait for the connect timeout ({Seconds(connectTimeout)}): the unreachable server is remembered, not re-dialled for every call");
    }

    private sealed record Lab(LabNetwork Network, RunningRegistry Registry, RunningServer A, RunningServer B, ManagedProcess[] Clients);

    /// <summary>Registry, server-a, server-b each on its own host, and <paramref name="clients"/> load clients on theirs, calling until <see cref="FinishAsync"/>.</summary>
    private static async Task<Lab> StartAsync(ScenarioContext context, int clients, IReadOnlyList<string>? extraHosts = null)
    {
        string[] clientNames = [.. Enumerable.Range(1, clients).Select(n => $"client-{n}")];
        LabNetwork network = await context.CreateNetworkAsync(["registry", "server-a", "server-b", .. extraHosts ?? [], .. clientNames]);
        context.Config.Set("registry:host", network["registry"].Address);
        context.Config.Set("registry:self_preservation_limit", SelfPreservationLimit);
        RunningRegistry registry = await context.StartRegistryAsync(onHost: network["registry"]);
        RunningServer[] servers = await Task.WhenAll(
            context.StartServerOnAsync(network["server-a"], "0.0.0.0", "server-a"), context.StartServerOnAsync(network["server-b"], "0.0.0.0", "server-b"));
        await context.ExpectListedAsync(context.Probe(registry), servers, "discovery lists both servers at their host addresses");
        foreach (RunningServer server in servers)
        {
            context.Narrator.Hide(server.Process.Name, new Regex("Connection from"));
        }

        context.Note($"load: each client keeps {Concurrency} callers going, one call every {ScenarioContext.LoadIntervalMilliseconds} ms each, until the story ends "
                     + "(the servers' connection lines are hidden below, still recorded)");
        ManagedProcess[] started = [.. clientNames.Select(name => context.StartLoad(Concurrency, name, network[name]))];
        return new Lab(network, registry, servers[0], servers[1], started);
    }

    /// <summary>
    /// Waits until <paramref name="client"/> printed <paramref name="count"/> more progress lines that
    /// show calls completing: the load's own clock, and proof the load runs before a fault is applied.
    /// </summary>
    private static async Task WaitTicksAsync(ScenarioContext context, ManagedProcess client, int count, int fromLine = 0)
    {
        bool reached = await context.PollAsync(_ => Task.FromResult(ClientOutput.Progress(client.Lines.Skip(fromLine)).Count(tick => tick.Succeeded > 0) >= count), ScenarioContext.Unexpected);
        context.Check(reached, $"{client.Name} printed {count} progress lines with calls completing", "the client stopped reporting progress");
    }

    private static async Task<DateTimeOffset> HealAtAsync(ScenarioContext context, Lab lab, NetworkFault fault)
    {
        await context.HealAsync(fault);
        DateTimeOffset healedAt = DateTimeOffset.UtcNow;
        await MarkPhaseAsync(lab, "healed");
        return healedAt;
    }

    /// <summary>Starts a new phase in every load client (a line on its standard input): its summary then gives p50/p99 and the longest gap per phase.</summary>
    private static Task MarkPhaseAsync(Lab lab, string phase) =>
        Task.WhenAll(lab.Clients.Where(client => !client.HasExited).Select(client => client.WriteInputLineAsync(phase)));

    /// <summary>How long after <paramref name="healAt"/> the client's cache got <paramref name="server"/> back.</summary>
    private static async Task<TimeSpan> ListedAgainAsync(ScenarioContext context, ManagedProcess client, RunningServer server, DateTimeOffset healAt, int fromLine)
    {
        // The client says so in one of two lines: a cache update, or the registry answering again after an outage.
        OutputLine added = await context.ExpectLineAsync(client, $@"(Server cache updated .*added: [^;]*|Registry reachable again .*){Regex.Escape(server.ListedAs)}",
            $"{client.Name}'s cache lists {server.Process.Name} again", fromLine: fromLine);
        return added.Time - healAt;
    }

    /// <summary>
    /// Lets each load client show a second of calls after the heal, stops them, prints the figures (the
    /// client's own per-phase p50/p99 and longest gap, and the harness's reading of the progress lines),
    /// then checks 0 failed calls and no long stall.
    /// </summary>
    private static async Task FinishAsync(ScenarioContext context, Lab lab, LoadFigures during, IReadOnlyList<string> figures, Action? checkFirst = null)
    {
        await Task.WhenAll(lab.Clients.Select(client => WaitTicksAsync(context, client, 1, fromLine: client.LineCount)));
        await context.StopLoadAsync(lab.Clients);
        PrintedSummary?[] summaries = [.. lab.Clients.Select(client => ClientOutput.Summary(client.Lines))];
        long failed = summaries.Sum(summary => summary?.Failed ?? 0);
        context.Note("FIGURES");
        context.Note($"    failed calls: {failed} of {summaries.Sum(summary => (summary?.Succeeded ?? 0) + (summary?.Failed ?? 0))}");
        foreach (ManagedProcess client in lab.Clients)
        {
            foreach (PrintedPhase phase in ClientOutput.Phases(client.Lines))
            {
                context.Note($"    {client.Name} phase {phase}");
            }
        }

        context.Note($"    during the fault, from the progress lines: {during}");
        foreach (string figure in figures)
        {
            context.Note($"    {figure}");
        }

        checkFirst?.Invoke();
        context.Check(summaries.All(summary => summary is not null) && failed == 0, $"0 failed calls in {lab.Clients.Length} client(s)", $"{failed} failed");
        // The fault's phases only: the first calls of a cold start are not what the rule is about.
        PrintedPhase[] faultPhases = [.. lab.Clients.SelectMany(client => ClientOutput.Phases(client.Lines)).Where(phase => phase.Name is "cut" or "healed")];
        context.Check(faultPhases.Length == 2 * lab.Clients.Length, "every client printed its figures for the phases during and after the fault");
        TimeSpan stall = TimeSpan.FromSeconds(faultPhases.Max(phase => phase.LongestGapSeconds));
        context.Check(stall <= MaxStall, $"the longest stretch without a completed call during or after the fault ({Seconds(stall)}, the worst client) is at most {Seconds(MaxStall)}");
    }

    private static void CheckEvictAndReturn(ScenarioContext context, TimeSpan evictAfter, TimeSpan relistedAfter)
    {
        // Slack for a loaded 2-core machine: each bound only says "soon after the rule allows".
        TimeSpan slack = TimeSpan.FromSeconds(2);
        TimeSpan timeout = context.Timings.Seconds("registry:heartbeat_timeout");
        // With self-preservation on, a silent server is judged one heartbeat interval after its timeout.
        TimeSpan evictBound = timeout + context.Timings.Seconds("server:heartbeat_interval") + context.Timings.Seconds("registry:health_check_interval") + slack;
        context.Check(evictAfter >= timeout - TimeSpan.FromSeconds(1) && evictAfter <= evictBound,
            $"evicted {Seconds(evictAfter)} after the cut: after heartbeat_timeout, within heartbeat_timeout + heartbeat_interval + health_check_interval (+{Seconds(slack)} slack) = {Seconds(evictBound)}");
        TimeSpan listBound = context.Timings.Seconds("server:heartbeat_interval") + context.Timings.Seconds("client:poll_interval") + slack;
        context.Check(relistedAfter <= listBound, $"listed again {Seconds(relistedAfter)} after the heal: within heartbeat_interval + poll_interval (+{Seconds(slack)} slack) = {Seconds(listBound)}");
    }

    private static string Seconds(TimeSpan span) => $"{span.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s";

    private static string Show(double? value, string unit) => value is { } number ? $"{number.ToString("0.##", CultureInfo.InvariantCulture)} {unit}" : "not printed";
}
