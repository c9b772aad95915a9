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
            TenClientsAsync) { Grades = [LabProgram.Server] },
        new("hundred-connections",
            "100 raw connections each call rendezvous(group, 100): all 100 are served at the same time",
            "lab requirements §1: concurrent requests, one handler per connection",
            HundredConnectionsAsync),
        new("client-killed-mid-call",
            "a client calling sleep(5) is killed with kill -9: the server logs the closed connection and keeps answering others",
            "lab requirements §1: the server survives client disconnects",
            ClientKilledAsync),
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
        context.UseNoRegistry();
        RunningServer server = await context.StartServerAsync();
        if (server.IsForeign)
        {
            await TenOpenConnectionsAsync(context, server);
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

    // A foreign server has no rendezvous method, so the proof is weaker but black-box: ten clients
    // connect and stay connected; the last one's calls are answered while the first nine wait
    // mid-conversation, and then each of them is answered too. A server that serves one connection
    // at a time would never get past the first.
    private static async Task TenOpenConnectionsAsync(ScenarioContext context, RunningServer server)
    {
        context.Note("ten raw connections opened at once and kept open; the tenth calls first, then the other nine");
        RawRpcConnection[] connections = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation)));
        try
        {
            JsonElement last = await connections[9].CallAsync("add", [9, 9], ScenarioContext.Unexpected, context.Cancellation);
            context.Check(last.TryGetProperty("res", out JsonElement sum) && sum.GetRawText() == "28",
                "the tenth connection got add(9, 9) = 28 while nine others were open and silent", last.GetRawText());
            JsonElement[] replies = await Task.WhenAll(connections[..9].Select((connection, i) =>
                connection.CallAsync("add", [i, i], ScenarioContext.Unexpected, context.Cancellation)));
            int right = replies.Select((reply, i) => reply.TryGetProperty("res", out JsonElement res) && res.GetRawText() == ScenarioContext.Invariant((2 * i) + 10)).Count(ok => ok);
            context.Check(right == 9, "then each of the nine got its own add(i, i) answered: ten clients served at the same time", $"{right} of 9 right");
        }
        finally
        {
            await Task.WhenAll(connections.Select(connection => connection.DisposeAsync().AsTask()));
        }
    }

    private static async Task HundredConnectionsAsync(ScenarioContext context)
    {
        context.Config.Set("server:method_timeout", "60");
        context.UseNoRegistry();
        RunningServer server = await context.StartServerAsync();
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
}
