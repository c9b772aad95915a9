using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// Truly parallel service, proved without timing: <c>rendezvous(group, n)</c> returns only once n
/// callers are inside it at the same moment, so n successes mean n calls ran concurrently. Plus a
/// client that dies in the middle of a call.
/// </summary>
internal static class ConcurrencyScenarios
{
    public static IEnumerable<Scenario> All =>
    [
        new("ten-concurrent-clients",
            "10 client processes each call rendezvous(group, 10): all succeed only if all 10 are inside the server at once",
            "lab requirements §1: at least 10 clients at the same time, truly in parallel (B never waits for A's call)",
            TenClientsAsync)
        {
            Grades = [LabProgram.Server],
            NotGradedBecause = new Dictionary<LabProgram, string> { [LabProgram.Client] = "its ten clients must call rendezvous, a method of our server's that a foreign client does not call" },
        },
        new("hundred-connections",
            "100 raw connections each call rendezvous(group, 100): all 100 are served at the same time",
            "lab requirements §1: concurrent requests, one handler per connection",
            HundredConnectionsAsync) { Grades = [LabProgram.Server] },
        new("client-killed-mid-call",
            "a client calling sleep(5) is killed with kill -9: the server logs the closed connection and keeps answering others",
            "lab requirements §1: the server survives client disconnects",
            ClientKilledAsync)
        {
            Grades = [LabProgram.Server],
            NotGradedBecause = new Dictionary<LabProgram, string> { [LabProgram.Client] = "the client is only there to be killed in the middle of a call: what is graded is the server" },
        },
    ];

    private static async Task TenClientsAsync(ScenarioContext context)
    {
        // Ten cold .NET starts on a busy machine can take a while: the first client in must wait for the
        // last. Their connects land together while the machine is busiest, and a client in server mode
        // has no other server to try, so a connect that the short scenario timeout (1 s) would end is
        // given the time a call has: what this scenario proves is the rendezvous, not the connect timeout.
        context.Config.Set("client:call_timeout", "60");
        context.Config.Set("client:connect_timeout", "60");
        context.Config.Set("server:method_timeout", "60");
        // The nine connections that wait in TenOpenConnectionsAsync must not be closed as idle meanwhile.
        context.Config.Set("server:read_timeout", "60");
        context.UseNoRegistry();
        RunningServer server = await context.StartServerAsync();
        if (server.IsForeign)
        {
            await OpenConnectionsServedTogetherAsync(context, server, 10);
            return;
        }

        context.Note("ten separate client processes, each calling rendezvous(\"ten\", 10): each call blocks until ten callers are inside at once");
        ManagedProcess[] clients = [.. Enumerable.Range(0, 10).Select(_ => context.StartClient([.. server.DirectClientArguments, "rendezvous", "ten", "10"]))];
        int[] exitCodes = await Task.WhenAll(clients.Select(client => client.WaitForExitAsync(TimeSpan.FromSeconds(90), context.Cancellation)));
        context.Step($"all ten clients exited: codes {string.Join(", ", exitCodes)}");
        int answered = clients.Count(client => ClientOutput.Calls(client.Lines).Any(call => call.Method == "rendezvous"));
        context.Check(exitCodes.All(code => code == 0) && answered == 10,
            "all 10 rendezvous calls succeeded: the server ran the 10 clients' calls in parallel", $"{answered} of 10 printed a result");
        int connections = server.Process.LinesMatching(new Regex("Connection from .* opened")).Count;
        context.Check(connections >= 10, $"the server logged {connections} connections opened");
    }

    // A foreign server has no rendezvous method, so the proof is weaker but black-box: n clients
    // connect and stay connected; the last one's call is answered while the others wait
    // mid-conversation, and then each of them is answered too. A server that serves one connection
    // at a time would never get past the first.
    private static async Task OpenConnectionsServedTogetherAsync(ScenarioContext context, RunningServer server, int count)
    {
        context.Note($"{count} raw connections opened at once and kept open; the last one calls first, then the other {count - 1}");
        RawRpcConnection[] connections = await Task.WhenAll(Enumerable.Range(0, count).Select(_ =>
            RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation)));
        try
        {
            // A server that serves one connection at a time never answers the last while the first is open.
            JsonElement? last = await AnswerOrNullAsync(connections[^1].CallAsync("add", [count - 1, count - 1], LastAnswerTimeout, context.Cancellation));
            string expected = ScenarioContext.Invariant((2 * (count - 1)) + 10);
            context.Check(last is { } reply && reply.TryGetProperty("res", out JsonElement sum) && sum.GetRawText() == expected,
                $"connection {count} got add({count - 1}, {count - 1}) = {expected} while {count - 1} others were open and silent",
                last?.GetRawText() ?? $"no answer within {LastAnswerTimeout.TotalSeconds:0} s: the server did not serve it while the {count - 1} others were open");
            JsonElement?[] replies = await Task.WhenAll(connections[..^1].Select((connection, i) =>
                AnswerOrNullAsync(connection.CallAsync("add", [i, i], ScenarioContext.Unexpected, context.Cancellation))));
            int right = replies.Select((reply, i) => reply is { } answer && answer.TryGetProperty("res", out JsonElement res) && res.GetRawText() == ScenarioContext.Invariant((2 * i) + 10)).Count(ok => ok);
            context.Check(right == count - 1, $"then each of the {count - 1} got its own add(i, i) answered: {count} clients served at the same time", $"{right} of {count - 1} right");
        }
        finally
        {
            await Task.WhenAll(connections.Select(connection => connection.DisposeAsync().AsTask()));
        }
    }

    // Generous for one add on a loaded machine; a server that never gets to the last connection fails after it.
    private static readonly TimeSpan LastAnswerTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The reply, or null when the call got none (timed out, or the server closed or reset the connection).</summary>
    internal static async Task<JsonElement?> AnswerOrNullAsync(Task<JsonElement> call)
    {
        try
        {
            return await call;
        }
        catch (Exception ex) when (ex is TimeoutException or IOException or SocketException)
        {
            return null;
        }
    }

    private static async Task HundredConnectionsAsync(ScenarioContext context)
    {
        context.Config.Set("server:method_timeout", "60");
        // Connections that wait their turn must not be closed as idle meanwhile.
        context.Config.Set("server:read_timeout", "60");
        context.UseNoRegistry();
        RunningServer server = await context.StartServerAsync();
        if (server.IsForeign)
        {
            await OpenConnectionsServedTogetherAsync(context, server, 100);
            context.Check(!server.Process.HasExited, "the server is still running");
            return;
        }

        context.Narrator.Hide(server.Process.Name, new Regex("Connection from"));
        context.Note("the harness opens 100 connections; each sends rendezvous(\"hundred\", 100) (connection log lines hidden, still recorded)");

        RawRpcConnection[] connections = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ =>
            RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation)));
        try
        {
            context.Step("100 connections open; sending the 100 calls");
            JsonElement[] replies = await Task.WhenAll(connections.Select(connection =>
                connection.CallAsync("rendezvous", ["hundred", 100], TimeSpan.FromSeconds(60), context.Cancellation)));
            int succeeded = replies.Count(reply => HappyPathScenarios.ErrorCode(reply) is null && reply.TryGetProperty("res", out _));
            string? firstError = replies.Select(reply => reply.GetRawText()).FirstOrDefault(text => text.Contains("\"error\"", StringComparison.Ordinal));
            context.Check(succeeded == 100, "all 100 rendezvous calls returned: 100 calls were inside the server at the same time",
                $"{succeeded} succeeded; first error: {firstError}");
        }
        finally
        {
            await Task.WhenAll(connections.Select(connection => connection.DisposeAsync().AsTask()));
        }

        await context.ExpectLineAsync(server.Process, "Connection from .* closed after 1 call", "the server logged the connections closing after their call");
        context.Check(!server.Process.HasExited, "the server is still running");
    }

    private static async Task ClientKilledAsync(ScenarioContext context)
    {
        context.UseNoRegistry();
        RunningServer server = await context.StartServerAsync();
        if (server.IsForeign)
        {
            await ConnectionResetMidCallAsync(context, server);
            return;
        }

        int mark = server.Process.LineCount;
        ManagedProcess client = context.StartClient([.. server.DirectClientArguments, "sleep", "5"]);
        OutputLine opened = await context.ExpectLineAsync(server.Process, @"Connection from \S+ opened", "the client connected; its sleep(5) request follows on that connection", fromLine: mark);
        string peer = Regex.Match(opened.Text, @"Connection from (\S+) opened").Groups[1].Value;

        context.Step($"kill -9 {client.Name} (pid {client.Id}) in the middle of its call");
        client.KillHard();
        await client.WaitForExitAsync(ScenarioContext.Unexpected, context.Cancellation);
        await context.ExpectLineAsync(server.Process, $@"Connection from {Regex.Escape(peer)} closed after \d+ calls",
            $"the server noticed: it logged the connection from {peer} closed", timeout: TimeSpan.FromSeconds(20));

        ClientRun next = await context.RunClientAsync([.. server.DirectClientArguments, "add", "1", "2"]);
        PrintedCall? call = ClientOutput.Calls(next.Lines).FirstOrDefault();
        context.Check(next.ExitCode == 0 && call?.ResultText == "13", "a new client still gets add(1, 2) = 13", $"exit {next.ExitCode}");
        context.Check(!server.Process.HasExited, "the server is still running");
    }

    // A foreign server has no sleep method to be in the middle of, and prints nothing we read. What a
    // killed client does to it is seen on the wire: a request arrives, then the connection is reset
    // (what the kernel sends for a process that died with the socket open) before the reply is read.
    private static async Task ConnectionResetMidCallAsync(ScenarioContext context, RunningServer server)
    {
        using (var dying = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await dying.ConnectAsync(server.Host, server.Port, context.Cancellation);
            await dying.SendAsync(System.Text.Encoding.UTF8.GetBytes(RawRpcConnection.RequestJson("add", [1, 2]) + "\n"), context.Cancellation);
            // Linger 0: closing sends a reset, as the kernel does for a client killed with kill -9 while its reply is due.
            dying.LingerState = new LingerOption(true, 0);
            context.Step($"a harness connection from {dying.LocalEndPoint} sent add(1, 2) and was reset before reading the reply, like a client killed mid-call");
        }

        await using RawRpcConnection next = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation);
        JsonElement reply = await next.CallAsync("add", [1, 2], ScenarioContext.Unexpected, context.Cancellation);
        context.Check(reply.TryGetProperty("res", out JsonElement sum) && sum.GetRawText() == "13", "a new client still gets add(1, 2) = 13", reply.GetRawText());
        context.Check(!server.Process.HasExited, "the server is still running");
    }
}
