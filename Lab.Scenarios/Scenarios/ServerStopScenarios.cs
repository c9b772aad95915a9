using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// A server ends, in every way the lab names: killed (kill -9) under load, stopped by the operator
/// (Ctrl+C / SIGTERM) with the registry up or down, and broken by a fatal fault at start with the
/// registry up or down — lab requirements §1's four shutdown combinations.
/// </summary>
internal static partial class ServerStopScenarios
{
    public static IEnumerable<Scenario> All =>
    [
        new("server-killed-failover",
            "kill -9 of one of two servers during a --duration run: zero failed calls (failover), the registry evicts it after the heartbeat timeout",
            "lab requirements §1/§4/§6: the client handles server faults (failover); the registry evicts unhealthy instances",
            ServerKilledAsync)
        {
            NeedsPosixSignals = true,
            MinimumTimeout = TimeSpan.FromSeconds(120),
            Grades = [LabProgram.Registry, LabProgram.Server],
            NotGradedBecause = new Dictionary<LabProgram, string> { [LabProgram.Client] = RegistryFaultScenarios.DurationClient },
        },
        new("graceful-stop",
            "Ctrl+C (SIGINT) to a server during a sleep call: it leaves the registry at once, finishes the call, exits 0",
            "lab requirements §1/§5: graceful stop — stop accepting, unregister, let in-flight calls finish, exit 0",
            GracefulStopAsync)
        {
            NeedsPosixSignals = true,
            Grades = [LabProgram.Registry],
            NotGradedBecause = new Dictionary<LabProgram, string>
            {
                [LabProgram.Server] = "the call in flight at the signal is sleep(2), a method the lab's ten do not include (shutdown-registry-up-service-up grades the rest of a graceful stop)",
            },
        },
        new("shutdown-registry-up-service-up",
            "SIGTERM to a registered server with the registry up: unregistered at once, exit 0",
            "lab requirements §1: shut down gracefully, actively — registry up + service up",
            RegistryUpServiceUpAsync) { NeedsPosixSignals = true, Grades = [LabProgram.Registry, LabProgram.Server] },
        new("shutdown-registry-down-service-up",
            "SIGTERM to a server whose registry has died: it says it could not unregister and still exits 0 promptly",
            "lab requirements §1: shut down gracefully, actively — registry down + service up",
            RegistryDownServiceUpAsync) { NeedsPosixSignals = true, Grades = [LabProgram.Registry, LabProgram.Server] },
        new("shutdown-registry-up-service-broken",
            "a server whose port is already taken: one clear error line, non-zero exit, never registered",
            "lab requirements §1/§5: shut down passively on a fatal fault — registry up + service broken",
            RegistryUpServiceBrokenAsync) { Grades = [LabProgram.Server] },
        new("shutdown-registry-down-service-broken",
            "a server whose port is taken while no registry runs: one clear error line, non-zero exit, no hang",
            "lab requirements §1/§5: shut down passively on a fatal fault — registry down + service broken",
            RegistryDownServiceBrokenAsync) { Grades = [LabProgram.Server] },
    ];

    private static async Task ServerKilledAsync(ScenarioContext context)
    {
        RunningRegistry registry = await context.StartRegistryAsync();
        RunningServer[] servers = await Task.WhenAll(context.StartServerAsync(), context.StartServerAsync());
        RegistryProbe probe = context.Probe(registry);
        await context.ExpectListedAsync(probe, servers, "both servers are registered");
        RunningServer victim = servers[1], survivor = servers[0];

        // The load lasts until the story ends: the eviction, the survivor alone in discovery, a progress line after it.
        ManagedProcess client = context.StartLoad(4);
        await context.ExpectLineAsync(client, ClientOutput.CallingBothPattern, "the client is calling both servers (a progress line with calls completed)", timeout: ScenarioContext.StartupTimeout);

        context.Step($"kill -9 {victim.Process.Name} (pid {victim.Process.Id}) under load");
        var killedAt = Stopwatch.StartNew();
        victim.Process.KillHard();
        await victim.Process.WaitForExitAsync(ScenarioContext.Unexpected, context.Cancellation);

        TimeSpan heartbeatTimeout = context.Timings.Seconds("registry:heartbeat_timeout");
        if (registry.IsForeign)
        {
            // A foreign registry's log means nothing to us: the eviction is seen in discovery. Its last
            // heartbeat came up to one heartbeat interval before the kill, hence the lower bound.
            await context.ExpectListedAsync(probe, [survivor], "discovery now lists only the survivor (the registry evicted the victim)");
            TimeSpan earliest = heartbeatTimeout - context.Timings.Seconds("server:heartbeat_interval");
            context.Check(killedAt.Elapsed >= earliest, $"only after the heartbeat timeout: evicted {killedAt.Elapsed.TotalSeconds:0.0} s after the kill (>= heartbeat_timeout - heartbeat_interval = {earliest.TotalSeconds:0.0} s)");
        }
        else
        {
            OutputLine evicted = await context.ExpectLineAsync(registry.Process, $@"Evicted json://{Regex.Escape(victim.Address)} \(no heartbeat for [\d.]+ s\)",
                $"the registry evicted {victim.Process.Name}");
            context.Step($"eviction came {killedAt.Elapsed.TotalSeconds:0.0} s after the kill (heartbeat_timeout {heartbeatTimeout.TotalSeconds:0.#} s, health check every {context.Timings.Seconds("registry:health_check_interval").TotalSeconds:0.#} s)");
            double silence = double.Parse(EvictedSeconds().Match(evicted.Text).Groups[1].Value, CultureInfo.InvariantCulture);
            context.Check(silence >= heartbeatTimeout.TotalSeconds, $"only after the heartbeat timeout: no heartbeat for {silence:0.0} s >= {heartbeatTimeout.TotalSeconds:0.0} s");
        }

        await context.ExpectListedAsync(probe, [survivor], "discovery now lists only the survivor");
        int mark = client.LineCount;
        await context.ExpectLineAsync(client, ClientOutput.ProgressPattern, "the client calls on (its next progress line)", fromLine: mark);

        int exitCode = (await context.StopLoadAsync(client))[0];
        PrintedSummary? summary = ClientOutput.Summary(client.Lines);
        context.Check(exitCode == 0 && summary is { Failed: 0 }, $"zero failed calls: {summary?.Succeeded} succeeded, 0 failed (exit {exitCode})",
            summary is null ? "no summary line" : $"{summary.Failed} failed, exit {exitCode}");
        long victimCalls = summary!.PerServer.TryGetValue(victim.Address, out var counts) ? counts.Succeeded : 0;
        long survivorCalls = summary.PerServer.TryGetValue(survivor.Address, out counts) ? counts.Succeeded : 0;
        context.Check(victimCalls > 0 && survivorCalls > victimCalls,
            $"{victim.Process.Name} answered {victimCalls} calls before it died; {survivor.Process.Name} took over ({survivorCalls})");
    }

    private static async Task GracefulStopAsync(ScenarioContext context)
    {
        RunningRegistry registry = await context.StartRegistryAsync();
        RunningServer server = await context.StartServerAsync();
        RegistryProbe probe = context.Probe(registry);
        await context.ExpectListedAsync(probe, [server], "the server is registered");

        // A call is "in flight" once the server has read it. The harness makes that observable:
        // add(1, 2) and sleep(2) go out in one write, so when the add reply arrives the server is
        // reading this connection and sleep(2) is already in its buffer, next in line.
        await using RawRpcConnection caller = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation);
        await caller.SendRawAsync(RawRpcConnection.RequestJson("add", [1, 2]) + "\n" + RawRpcConnection.RequestJson("sleep", [2]) + "\n", context.Cancellation);
        JsonElement added = await caller.ReadReplyAsync(ScenarioContext.Unexpected, context.Cancellation);
        context.Check(added.GetProperty("res").GetRawText() == "13", "a harness connection sent add(1, 2) and sleep(2) together; add answered 13, sleep(2) is running");

        int registryMark = registry.Process.LineCount;
        context.Step($"Ctrl+C (SIGINT) to {server.Process.Name} while the sleep(2) call is in flight");
        var signalled = Stopwatch.StartNew();
        Task<int> serverExit = server.Process.InterruptAsync(ScenarioContext.Unexpected, context.Cancellation);
        await ExpectUnregisteredAsync(context, registry, server, "the registry got the unregistration", registryMark);
        IReadOnlyList<string> listed = await probe.ListedAddressesAsync(context.Cancellation);
        TimeSpan heartbeatTimeout = context.Timings.Seconds("registry:heartbeat_timeout");
        context.Check(listed.Count == 0 && signalled.Elapsed < heartbeatTimeout,
            $"discovery checked right away ({signalled.Elapsed.TotalSeconds:0.00} s after the signal, before any eviction could happen) lists nothing",
            $"listed: {string.Join(", ", listed)}");

        string? refused = await WhyNoServiceAsync(server);
        context.Check(refused is not null, $"while it drains, a new connection gets no service: {refused}", "a new call was answered");

        JsonElement slept = await caller.ReadReplyAsync(ScenarioContext.Unexpected, context.Cancellation);
        context.Check(HappyPathScenarios.ErrorCode(slept) is null && slept.TryGetProperty("res", out _),
            $"the in-flight sleep(2) call finished and its reply arrived {signalled.Elapsed.TotalSeconds:0.00} s after the signal: {slept.GetRawText()}", slept.GetRawText());
        context.Check(await caller.WaitForServerToCloseAsync(ScenarioContext.Unexpected, context.Cancellation), "then the server closed the connection");
        int exitCode = await serverExit;
        context.Check(exitCode == 0, "the server exited with code 0", $"exit code {exitCode}");
        await context.ExpectLineAsync(server.Process, "Unregistered from registry", "the server logged its unregistration");
        await context.ExpectLineAsync(server.Process, "Server stopped", "and, last, \"Server stopped\"");
        await CheckNoReRegistrationAsync(context, registry, server, registryMark);
    }

    private static async Task RegistryUpServiceUpAsync(ScenarioContext context)
    {
        RunningRegistry registry = await context.StartRegistryAsync();
        RunningServer server = await context.StartServerAsync();
        RegistryProbe probe = context.Probe(registry);
        await context.ExpectListedAsync(probe, [server], "the server is registered");

        int registryMark = registry.Process.LineCount;
        context.Step($"SIGTERM to {server.Process.Name}");
        var signalled = Stopwatch.StartNew();
        int exitCode = await server.Process.TerminateAsync(ScenarioContext.Unexpected, context.Cancellation);
        context.Check(exitCode == 0, $"the server exited with code 0 after {signalled.Elapsed.TotalSeconds:0.00} s", $"exit code {exitCode}");
        if (!server.IsForeign)
        {
            await context.ExpectLineAsync(server.Process, "Unregistered from registry", "it unregistered on the way out");
        }

        await ExpectUnregisteredAsync(context, registry, server, "the registry confirms", registryMark);
        await context.ExpectListedAsync(probe, [], "discovery lists nothing");
        await CheckNoReRegistrationAsync(context, registry, server, registryMark);
    }

    private static async Task RegistryDownServiceUpAsync(ScenarioContext context)
    {
        RunningRegistry registry = await context.StartRegistryAsync();
        RunningServer server = await context.StartServerAsync();
        await context.ExpectRegisteredAsync(registry, server);
        await context.ExpectServerSaysRegisteredAsync(server, $"{server.Process.Name} got the registry's answer");

        int mark = server.Process.LineCount;
        context.Step($"kill -9 the registry (pid {registry.Process.Id})");
        registry.Process.KillHard();
        await registry.Process.WaitForExitAsync(ScenarioContext.Unexpected, context.Cancellation);
        if (server.IsForeign)
        {
            // It may not have noticed yet: that is its heartbeat's business. The stop must be prompt either way.
            context.Note("the student's server prints what it likes about the outage: not read; it is judged by its exit code and how long the stop takes");
        }
        else
        {
            await context.ExpectLineAsync(server.Process, "Registry unreachable at", "the server noticed the registry is gone", fromLine: mark);
        }

        context.Step($"SIGTERM to {server.Process.Name}");
        var signalled = Stopwatch.StartNew();
        int exitCode = await server.Process.TerminateAsync(ScenarioContext.Unexpected, context.Cancellation);
        TimeSpan prompt = context.Timings.Seconds("server:registry_timeout") + TimeSpan.FromSeconds(5);
        context.Check(exitCode == 0, "the server exited with code 0", $"exit code {exitCode}");
        context.Check(signalled.Elapsed < prompt, $"promptly: {signalled.Elapsed.TotalSeconds:0.00} s after the signal (limit: registry_timeout + 5 s = {prompt.TotalSeconds:0.0} s)");
        if (!server.IsForeign)
        {
            await context.ExpectLineAsync(server.Process, "Could not unregister from registry", "it said it could not unregister, instead of hanging", fromLine: mark);
            await context.ExpectLineAsync(server.Process, "Server stopped", "and stopped");
        }
    }

    private static async Task RegistryUpServiceBrokenAsync(ScenarioContext context)
    {
        RunningRegistry registry = await context.StartRegistryAsync();
        await BrokenServiceAsync(context, registry);
    }

    private static async Task RegistryDownServiceBrokenAsync(ScenarioContext context)
    {
        context.UseNoRegistry();
        context.Note("no registry runs in this scenario");
        await BrokenServiceAsync(context, registry: null);
    }

    // The fatal fault: the port the server must listen on is already taken by another socket.
    private static async Task BrokenServiceAsync(ScenarioContext context, RunningRegistry? registry)
    {
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        squatter.Listen();
        int port = ((IPEndPoint)squatter.LocalEndPoint!).Port;
        context.Step($"the harness takes 127.0.0.1:{port} with its own listening socket");

        ManagedProcess server = context.StartServerProcess("127.0.0.1", port, context.NextName("server"));
        bool foreign = context.Foreign.Replaces(LabProgram.Server);
        var started = Stopwatch.StartNew();
        int exitCode = await server.WaitForExitAsync(ScenarioContext.Unexpected, context.Cancellation);
        context.Check(exitCode != 0, $"the server gave up with exit code {exitCode}", "it exited with 0 as if nothing happened");
        // The bound is the time any program may take to start (a cold start on a busy machine, scenarios
        // running beside this one): a server that hangs on the taken port, or retries it, runs past it.
        context.Check(started.Elapsed < ScenarioContext.StartupTimeout,
            $"without hanging: {started.Elapsed.TotalSeconds:0.0} s from start to exit (limit: the {ScenarioContext.StartupTimeout.TotalSeconds:0} s any program may take to start)");
        string[] errors = [.. server.Lines.Where(line => line.IsError).Select(line => line.Text)];
        if (foreign)
        {
            // Its words are its own; that it said something, and that it was not a stack trace, is what the lab asks.
            string[] said = [.. server.Lines.Select(line => line.Text).Where(text => text.Trim().Length > 0)];
            context.Check(said.Length > 0, $"it said why: {said.LastOrDefault()}", "it printed nothing at all");
        }
        else
        {
            context.Check(errors.Length == 1 && errors[0].Contains(ScenarioContext.Invariant(port), StringComparison.Ordinal),
                $"one clear error line, naming the port: {errors.FirstOrDefault()}", $"stderr had {errors.Length} lines: {string.Join(" | ", errors)}");
            context.Check(!server.Lines.Any(line => line.Text.Contains("Server listening on", StringComparison.Ordinal)), "it never claimed to be listening");
        }

        context.Check(!server.Lines.Any(line => StackFrame().IsMatch(line.Text)), "no stack trace dump",
            server.Lines.FirstOrDefault(line => StackFrame().IsMatch(line.Text))?.Text);

        if (registry is not null)
        {
            context.Check(!registry.Process.Lines.Any(line => line.Text.Contains("Registered json://", StringComparison.Ordinal)), "the registry never saw it register");
            await context.ExpectListedAsync(context.Probe(registry), [], "discovery lists nothing");
        }
    }

    // Null when a fresh connection can still complete a call; else how it was turned away (a
    // draining server refuses the connection or closes it unanswered).
    private static async Task<string?> WhyNoServiceAsync(RunningServer server)
    {
        try
        {
            await using RawRpcConnection probe = await RawRpcConnection.ConnectAsync(server.Host, server.Port, TimeSpan.FromSeconds(2));
            await probe.CallAsync("add", [1, 2], TimeSpan.FromSeconds(2));
            return null;
        }
        catch (SocketException ex)
        {
            return $"the connection was refused ({ex.SocketErrorCode})";
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ScenarioFailedException)
        {
            return ex.Message;
        }
    }

    // Our registry logs the unregistration; a foreign one shows it in discovery, at once (before any eviction).
    private static async Task ExpectUnregisteredAsync(ScenarioContext context, RunningRegistry registry, RunningServer server, string what, int registryMark)
    {
        if (!registry.IsForeign)
        {
            // A foreign server that never unregisters would make this wait its whole timeout; the
            // unregistration is due at once, so it gets until an eviction could have happened.
            await context.ExpectLineAsync(registry.Process, $"Unregistered json://{Regex.Escape(server.Address)}", what, fromLine: registryMark,
                timeout: server.IsForeign ? context.Timings.Seconds("registry:heartbeat_timeout") : null);
            return;
        }

        TimeSpan beforeEviction = context.Timings.Seconds("registry:heartbeat_timeout") / 2;
        RegistryProbe probe = context.Probe(registry);
        bool gone = await context.PollAsync(async token => !(await probe.ListedAddressesAsync(token)).Contains(server.Address), beforeEviction);
        context.Check(gone, $"{what}: discovery stopped listing {server.Address} within {beforeEviction.TotalSeconds:0.#} s, before any eviction");
    }

    private static async Task CheckNoReRegistrationAsync(ScenarioContext context, RunningRegistry registry, RunningServer server, int fromLine)
    {
        // A foreign registry logs nothing we read: watch discovery for two heartbeat intervals, in
        // which a heartbeat that outlived the unregistration would have listed the server again.
        RegistryProbe probe = context.Probe(registry);
        bool reRegistered = registry.IsForeign
            ? await context.PollAsync(async token => (await probe.ListedAddressesAsync(token)).Contains(server.Address),
                context.Timings.Seconds("server:heartbeat_interval") * 2)
            : registry.Process.Lines.Skip(fromLine).Any(line => line.Text.Contains($"Registered json://{server.Address}", StringComparison.Ordinal));
        context.Check(!reRegistered, "no heartbeat re-registered it after it left (the original lab's bug)");
    }

    [GeneratedRegex(@"no heartbeat for ([\d.]+) s")]
    private static partial Regex EvictedSeconds();

    // A .NET or Java frame ("   at Lab.Server.Program.Main(...)"), or a Python traceback's first line or frame.
    [GeneratedRegex(@"^\s+at \S+\(|^Traceback \(most recent call last\)|^\s+File "".+"", line \d+")]
    private static partial Regex StackFrame();
}
