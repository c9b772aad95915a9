using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// The registry is missing or dies: servers keep serving and keep retrying (once-per-outage log
/// lines, not one a second), clients keep calling from their cache, and everything re-registers
/// when the registry is back — even though it restarts with an empty list.
/// </summary>
internal static partial class RegistryFaultScenarios
{
    public static IEnumerable<Scenario> All =>
    [
        new("registry-down-at-server-start",
            "a server starts while no registry runs: it serves direct clients, logs the outage once, and registers when the registry starts",
            "lab requirements §1/§5: the server survives the registry going away; keeps serving, logs once per outage, keeps retrying",
            RegistryDownAtStartAsync) { Grades = [LabProgram.Registry, LabProgram.Server] },
        new("registry-crash-restart",
            "kill -9 of the registry during a --duration client run: zero failed calls (cache), both servers re-register on restart",
            "lab requirements §1: the client survives the registry going away (keeps using the cache); the servers re-register",
            RegistryCrashAsync)
        {
            NeedsPosixSignals = true,
            MinimumTimeout = TimeSpan.FromSeconds(120),
            Grades = [LabProgram.Registry, LabProgram.Server],
            NotGradedBecause = new Dictionary<LabProgram, string> { [LabProgram.Client] = DurationClient },
        },
    ];

    /// <summary>Why a scenario that keeps our client calling through a fault cannot grade a foreign one.</summary>
    internal const string DurationClient = "the fault strikes while a client calls for a set time and counts its failures (our client's --duration); a foreign client makes its own short list of calls";

    private static async Task RegistryDownAtStartAsync(ScenarioContext context)
    {
        int registryPort = context.UseNoRegistry();
        // Debug level shows each retry, so "logged once per outage" is checked across several retries.
        context.Config.Set("logging:level", "debug");
        context.Note($"config.ini names a registry at 127.0.0.1:{registryPort}, but nothing listens there yet; logging at debug level shows every retry");
        RunningServer server = await context.StartServerAsync();
        if (server.IsForeign)
        {
            await ForeignServerWithoutRegistryAsync(context, server, registryPort);
            return;
        }

        var unreachable = new Regex(@"Registry unreachable at http://\S+: .*; serving anyway and retrying");
        await context.ExpectLineAsync(server.Process, unreachable.ToString(), "the server logged that the registry is unreachable, and serves anyway");

        ClientRun direct = await context.RunClientAsync([.. server.DirectClientArguments, "add", "1", "2"]);
        context.Check(direct.ExitCode == 0 && ClientOutput.Calls(direct.Lines).FirstOrDefault()?.ResultText == "13",
            "a direct client gets add(1, 2) = 13 meanwhile", $"exit {direct.ExitCode}");
        var retry = new Regex(@"DEBUG .*[Rr]egistry.*unreachable");
        OutputLine outage = server.Process.LinesMatching(unreachable)[0];
        int afterOutage = server.Process.Lines.ToList().IndexOf(outage) + 1;
        await server.Process.WaitForLineAsync(retry, ScenarioContext.Unexpected, afterOutage, context.Cancellation);
        int firstRetry = server.Process.Lines.ToList().FindIndex(afterOutage, line => retry.IsMatch(line.Text));
        await context.ExpectLineAsync(server.Process, retry.ToString(), "the server keeps retrying (each retry only at debug level)", fromLine: firstRetry + 1);
        int outageLines = server.Process.LinesMatching(unreachable).Count;
        context.Check(outageLines == 1, $"after {server.Process.LinesMatching(retry).Count} retries the outage is still logged once, not once per attempt",
            $"{outageLines} lines");

        int mark = server.Process.LineCount;
        RunningRegistry registry = await context.StartRegistryAsync(registryPort);
        await context.ExpectLineAsync(server.Process, @"Registry reachable again; registered as json://" + Regex.Escape(server.Address),
            "the server noticed the registry and registered", fromLine: mark);
        await context.ExpectRegisteredAsync(registry, server);
        await context.ExpectListedAsync(context.Probe(registry), [server], "discovery lists the server");
        context.Check(server.Process.LinesMatching(unreachable).Count == 1, "still exactly one outage line for the whole outage");
    }

    private static async Task RegistryCrashAsync(ScenarioContext context)
    {
        RunningRegistry registry = await context.StartRegistryAsync();
        RunningServer[] servers = await Task.WhenAll(context.StartServerAsync(), context.StartServerAsync());
        RegistryProbe probe = context.Probe(registry);
        await context.ExpectListedAsync(probe, servers, "both servers are registered");
        foreach (RunningServer server in servers)
        {
            await context.ExpectServerSaysRegisteredAsync(server, $"{server.Process.Name} got the registry's answer");
        }

        // The load lasts until the story ends: the outage ridden out, the restart, and the client back on the registry.
        ManagedProcess client = context.StartLoad(4);
        await context.ExpectLineAsync(client, ClientOutput.CallingPattern, "the client is calling (a progress line with calls completed)", timeout: ScenarioContext.StartupTimeout);

        int[] marks = [.. servers.Select(server => server.Process.LineCount)];
        int clientMark = client.LineCount;
        context.Step($"kill -9 the registry (pid {registry.Process.Id})");
        registry.Process.KillHard();
        await registry.Process.WaitForExitAsync(ScenarioContext.Unexpected, context.Cancellation);
        await ExpectOutageRiddenOutAsync(context, servers, marks, client, clientMark, "Registry unreachable at",
            "noticed the registry is gone and keeps serving", "the client noticed too, and keeps its cached servers",
            "with the registry down, the client's calls go on from its cache");

        context.Step($"restart the registry on the same port {registry.Port} (its instance list starts empty)");
        marks = [.. servers.Select(server => server.Process.LineCount)];
        RunningRegistry restarted = await context.StartRegistryAsync(registry.Port, name: "registry-2");
        for (int i = 0; i < servers.Length; i++)
        {
            // A foreign server says nothing we read: its re-registration is the discovery check below.
            if (!servers[i].IsForeign)
            {
                await context.ExpectLineAsync(servers[i].Process, "Registry reachable again; registered as", $"{servers[i].Process.Name} re-registered with the new registry", fromLine: marks[i]);
            }
        }

        await context.ExpectListedAsync(context.Probe(restarted), servers, "discovery is whole again: both servers listed");
        await context.ExpectLineAsync(client, "Registry reachable again", "the client found the registry again by itself", fromLine: clientMark);

        int exitCode = (await context.StopLoadAsync(client))[0];
        PrintedSummary? summary = ClientOutput.Summary(client.Lines);
        context.Check(exitCode == 0 && summary is { Failed: 0 }, $"the client finished with zero failed calls ({summary?.Succeeded} succeeded, exit {exitCode})",
            summary is null ? "no summary line" : $"{summary.Failed} failed");
    }

    /// <summary>How every program should ride out a registry outage, whatever keeps the list (built-in or
    /// etcd): each server and the client log it, and the client's calls go on from its cache.</summary>
    /// <param name="serverMarks">Each server's line count when the fault came; <paramref name="clientMark"/> the same for the client.</param>
    internal static async Task ExpectOutageRiddenOutAsync(ScenarioContext context, RunningServer[] servers, int[] serverMarks,
        ManagedProcess client, int clientMark, string unreachable, string serverNote, string clientNote, string callsNote)
    {
        for (int i = 0; i < servers.Length; i++)
        {
            if (servers[i].IsForeign)
            {
                context.Note($"{servers[i].Process.Name} is the student's: what it prints about the outage is its own; it is judged by serving on and re-registering");
                continue;
            }

            await ExpectOutageLoggedAsync(context, servers[i].Process, serverMarks[i], unreachable, $"{servers[i].Process.Name} {serverNote}");
        }

        await ExpectOutageLoggedAsync(context, client, clientMark, unreachable, clientNote);
        long before = ClientOutput.Progress(client.Lines).LastOrDefault().Succeeded;
        int progressMark = client.LineCount;
        await client.WaitForLineAsync(new Regex(ClientOutput.ProgressPattern), ScenarioContext.Unexpected, progressMark, context.Cancellation);
        long after = ClientOutput.Progress(client.Lines).Last().Succeeded;
        context.Check(after > before, $"{callsNote} ({before} -> {after} succeeded)");
    }

    // A foreign server is judged by what can be seen: it serves direct clients while the registry is
    // down, and registers by itself once the registry is up. Its messages about the outage are its own.
    private static async Task ForeignServerWithoutRegistryAsync(ScenarioContext context, RunningServer server, int registryPort)
    {
        context.Note("the student's server prints what it likes about the outage: not read; it is judged by serving, then by registering");
        ClientRun direct = await context.RunClientAsync([.. server.DirectClientArguments, "add", "1", "2"]);
        context.Check(direct.ExitCode == 0 && ClientOutput.Calls(direct.Lines).FirstOrDefault()?.ResultText == "13",
            "a direct client gets add(1, 2) = 13 while no registry runs", $"exit {direct.ExitCode}");
        RunningRegistry registry = await context.StartRegistryAsync(registryPort);
        await context.ExpectRegisteredAsync(registry, server);
        await context.ExpectListedAsync(context.Probe(registry), [server], "discovery lists the server");
    }

    // Each program logs an outage once, when it begins. One whose request to the registry was slower than
    // registry_timeout on a busy machine just before the fault is already in an outage, and logs none for
    // the fault: its own earlier line, with no recovery since, says the same thing.
    private static async Task ExpectOutageLoggedAsync(ScenarioContext context, ManagedProcess process, int faultMark, string unreachable, string what)
    {
        OutputLine[] before = [.. process.Lines.Take(faultMark)];
        int outage = Array.FindLastIndex(before, line => Regex.IsMatch(line.Text, unreachable));
        int recovered = Array.FindLastIndex(before, line => RecoveredLine().IsMatch(line.Text));
        if (outage > recovered)
        {
            context.Narrator.Check(true, $"{what} (it was in an outage already, logged before the fault and not over: {Narrator.Shorten(Narrator.StripLogTimestamp(before[outage].Text))})");
            return;
        }

        await context.ExpectLineAsync(process, unreachable, what, fromLine: faultMark);
    }

    // A program's first successful contact with the registry, or the end of an outage.
    [GeneratedRegex(@"Registry reachable again|Registered with registry at|Discovered \d+ ")]
    private static partial Regex RecoveredLine();
}
