using System.Diagnostics;
using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// A server that goes silent instead of dying: frozen with SIGSTOP, it keeps its sockets and the
/// kernel keeps accepting connections and requests for it, but nothing is ever answered. Unlike a
/// killed server (refused at once) it stalls every caller that waits for it. The client must keep
/// calls flowing whatever its load-balancing strategy.
/// </summary>
internal static class AvailabilityScenarios
{
    // Long enough for the registry to evict the frozen server and for the client to ban it; the
    // issue that prompted these scenarios froze a server for 16 s.
    private static readonly TimeSpan Frozen = TimeSpan.FromSeconds(15);

    // "No stall": the longest stretch without a completed call the client may show is how long its
    // calls can hang on the frozen server before it is banned — silent_after, seen at the watchdog's
    // next look (every silent_after / 4) — plus this margin for a busy machine's scheduling.
    private static readonly TimeSpan StallMargin = TimeSpan.FromSeconds(1);

    public static IEnumerable<Scenario> All =>
    [
        new("server-frozen-failover",
            "SIGSTOP one of two servers for 15 s under --duration load with the random strategy: no call fails and calls never stall for longer than the client takes to ban a silent server",
            "lab requirements §1/§6: the client handles server faults (failover) and load balancing keeps working",
            context => ServerFrozenAsync(context, "random")) { NeedsPosixSignals = true, MinimumTimeout = TimeSpan.FromSeconds(150), NotGradedBecause = FrozenNotGraded },
        new("server-frozen-failover-round-robin",
            "the same freeze with the round_robin strategy, which would otherwise send every other call into the frozen server",
            "lab requirements §1/§6: the client handles server faults (failover) and load balancing keeps working",
            context => ServerFrozenAsync(context, "round_robin")) { NeedsPosixSignals = true, MinimumTimeout = TimeSpan.FromSeconds(150), NotGradedBecause = FrozenNotGraded },
    ];

    private static readonly Dictionary<LabProgram, string> FrozenNotGraded = new()
    {
        [LabProgram.Server] = "it grades the client's failover: SIGSTOP silences any server alike, so there is nothing of the server's own to judge",
        [LabProgram.Client] = "it reads our client's figures per phase (--duration, phase marks on its standard input)",
        [LabProgram.Registry] = "it reads our registry's eviction and re-registration log lines",
    };

    private static async Task ServerFrozenAsync(ScenarioContext context, string strategy)
    {
        context.Config.Set("client:load_balance", strategy);
        RunningRegistry registry = await context.StartRegistryAsync();
        RunningServer[] servers = await Task.WhenAll(context.StartServerAsync(), context.StartServerAsync());
        RegistryProbe probe = context.Probe(registry);
        await context.ExpectListedAsync(probe, servers, "both servers are registered");
        RunningServer frozen = servers[1], survivor = servers[0];
        TimeSpan silentAfter = context.Timings.Seconds("client:silent_after"), probeTimeout = context.Timings.Seconds("client:probe_timeout");
        context.Note($"client: load_balance = {strategy}, silent_after = {silentAfter.TotalSeconds:0.#} s, probe_timeout = {probeTimeout.TotalSeconds:0.#} s; "
                     + "each line the harness writes to the client's standard input starts a new phase of its figures");

        ManagedProcess client = context.StartLoad(4);
        await context.ExpectLineAsync(client, ClientOutput.CallingBothPattern, "the client is calling both servers (a progress line with calls completed)", timeout: ScenarioContext.StartupTimeout);
        int progressMark = client.LineCount;
        await context.ExpectLineAsync(client, ClientOutput.ProgressPattern, "a few seconds of normal load", fromLine: progressMark + 2);
        await ExpectCallingAsync(context, client, frozen);

        context.Step($"SIGSTOP {frozen.Process.Name} (pid {frozen.Process.Id}) for {Frozen.TotalSeconds:0} s: it keeps its port, the kernel keeps accepting, nothing answers");
        int clientMark = client.LineCount, registryMark = registry.Process.LineCount;
        var frozenFor = Stopwatch.StartNew();
        frozen.Process.Signal(ProcessSignal.Freeze);
        try
        {
            await client.WriteInputLineAsync("frozen");
            OutputLine banned = await context.ExpectLineAsync(client, $@"Server {Regex.Escape(frozen.Address)} stopped answering \(.*\); banned",
                "the client noticed: calls outstanding, none answered, and the probe went unanswered", fromLine: clientMark);
            TimeSpan detectedAfter = frozenFor.Elapsed, bound = silentAfter * 1.25 + probeTimeout + TimeSpan.FromSeconds(2);
            // 1.25: the watchdog looks every silent_after / 4; 2 s: a loaded machine's scheduling.
            context.Check(detectedAfter <= bound,
                $"it banned the frozen server and ended the calls stuck there {detectedAfter.TotalSeconds:0.0} s after the freeze (silent_after + a watchdog tick + probe_timeout, limit {bound.TotalSeconds:0.0} s)");
            context.Note(banned.Text);
            await context.ExpectLineAsync(registry.Process, $@"Evicted json://{Regex.Escape(frozen.Address)} \(no heartbeat", $"the registry evicted {frozen.Process.Name} too", fromLine: registryMark);
            context.Check(!registry.Process.Lines.Skip(registryMark).Any(line => line.Text.Contains("Self-preservation on", StringComparison.Ordinal)),
                "one silent instance of two is an ordinary death to the registry, not a partition: no self-preservation");

            TimeSpan left = Frozen - frozenFor.Elapsed;
            if (left > TimeSpan.Zero)
            {
                // The fault's length is the scenario's design, not a wait for something to happen.
                await Task.Delay(left, context.Cancellation);
            }
        }
        finally
        {
            frozen.Process.Signal(ProcessSignal.Resume);
        }

        context.Step($"SIGCONT {frozen.Process.Name} after {frozenFor.Elapsed.TotalSeconds:0.0} s");
        await client.WriteInputLineAsync("resumed");
        await context.ExpectLineAsync(registry.Process, $@"Registered json://{Regex.Escape(frozen.Address)}", "its next heartbeat registered it again", fromLine: registryMark);
        await context.ExpectLineAsync(client, $@"added: {Regex.Escape(frozen.Address)}", "and the client took it back into its cache", fromLine: clientMark);
        await context.ExpectLineAsync(client, ClientOutput.ProgressPattern, "the load runs on after the resume (its next progress line)", fromLine: client.LineCount);

        int exitCode = (await context.StopLoadAsync(client))[0];
        PrintedSummary? summary = ClientOutput.Summary(client.Lines);
        context.Check(exitCode == 0 && summary is { Failed: 0 }, $"zero failed calls: {summary?.Succeeded} succeeded, 0 failed (exit {exitCode})",
            summary is null ? "no summary line" : $"{summary.Failed} failed, exit {exitCode}");
        IReadOnlyList<PrintedPhase> phases = ClientOutput.Phases(client.Lines);
        foreach (PrintedPhase phase in phases)
        {
            context.Note($"phase {phase}");
        }

        // From the freeze on: a cold start on a loaded machine may pause before the first calls, which
        // says nothing about failover (the overall figure, start-up included, is narrated).
        double gap = phases.Where(phase => phase.Name != "start").Select(phase => phase.LongestGapSeconds).DefaultIfEmpty(double.NaN).Max();
        double maxGap = (silentAfter * 1.25 + StallMargin).TotalSeconds;
        context.Check(gap <= maxGap, $"no stall: from the freeze on, the longest stretch without a completed call was {gap:0.00} s (limit silent_after x 1.25 + {StallMargin.TotalSeconds:0} s = {maxGap:0.0} s; "
                                            + $"{ClientOutput.LongestGap(client.Lines):0.00} s over the whole run, start-up included)",
            double.IsNaN(gap) ? "no phase lines after 'start'" : $"{gap:0.00} s without a completed call");
        PrintedPhase? during = phases.FirstOrDefault(phase => phase.Name == "frozen");
        context.Check(during is { Calls: > 0 }, $"calls kept completing while it was frozen: {during}", "no 'frozen' phase with calls");
        TimeSpan banBound = silentAfter * 1.25 + probeTimeout + TimeSpan.FromSeconds(2);
        context.Check(during!.MaxMilliseconds <= banBound.TotalMilliseconds,
            $"the slowest call of that phase took {during.MaxMilliseconds / 1000:0.00} s: caught on the frozen server, it ended at the ban and was answered by the other one (limit {banBound.TotalSeconds:0.0} s, call_timeout {context.Timings.Seconds("client:call_timeout").TotalSeconds:0} s)");
        long survivorCalls = summary!.PerServer.TryGetValue(survivor.Address, out var counts) ? counts.Succeeded : 0;
        context.Check(survivorCalls > 0 && summary.PerServer.ContainsKey(frozen.Address),
            $"both servers answered calls over the run ({survivor.Process.Name}: {survivorCalls}, {frozen.Process.Name}: {summary.PerServer[frozen.Address].Succeeded})");
        context.Check(phases.Select(phase => phase.Name).SequenceEqual(["start", "frozen", "resumed"]) && phases[^1].Calls > 0,
            "the summary has the three phases the harness marked, and calls went on after the resume");
    }

    /// <summary>
    /// The story needs the client calling the server about to freeze: it accepted the client's connection,
    /// and the client has not dropped it since. (A connect that a busy machine held off past connect_timeout
    /// drops a server until its unreachable_ban ends and the next poll adds it back.)
    /// </summary>
    private static async Task ExpectCallingAsync(ScenarioContext context, ManagedProcess client, RunningServer server)
    {
        await context.ExpectLineAsync(server.Process, @"Connection from \S+ opened", $"{server.Process.Name} accepted the client's connection");
        var dropped = new Regex($@"Server {Regex.Escape(server.Address)} (failed|stopped answering)");
        int droppedAt = client.Lines.ToList().FindLastIndex(line => dropped.IsMatch(line.Text));
        if (droppedAt >= 0)
        {
            context.Note($"the client dropped {server.Process.Name} before the freeze: {Narrator.StripLogTimestamp(client.Lines[droppedAt].Text)}");
            TimeSpan back = context.Timings.Seconds("client:unreachable_ban") + ScenarioContext.Unexpected;
            await context.ExpectLineAsync(client, $@"added: [^;]*{Regex.Escape(server.Address)}", $"and took it back (after unreachable_ban), so it calls both again", timeout: back, fromLine: droppedAt + 1);
        }
    }
}
