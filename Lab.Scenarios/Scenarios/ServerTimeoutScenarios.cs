using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// lab requirements §7's server rows: a harness client that sends half a request, one that never reads its
/// replies, and a method that runs past the method timeout. Each costs only its own connection or
/// call; the server keeps serving everyone else.
/// </summary>
internal static class ServerTimeoutScenarios
{
    public static IEnumerable<Scenario> All =>
    [
        new("timeout-server-read",
            "a client sends half a request and stalls: the server closes it after read_timeout; another client is served meanwhile",
            "lab requirements §7: server, reading a request — connection closed after the read timeout; others unaffected",
            ReadAsync) { Grades = [LabProgram.Server] },
        new("timeout-server-write",
            "a client sends many large echo requests and never reads the replies: the server's write times out and frees the connection",
            "lab requirements §7: server, writing a reply (client never reads) — write times out; resources freed",
            WriteAsync)
        {
            NotGradedBecause = new Dictionary<LabProgram, string>
            {
                [LabProgram.Server] = "a server's write blocks only on replies far larger than the socket buffers: echo of 256 KB, a method the lab's ten do not include",
            },
        },
        new("timeout-method",
            "sleep(3) against method_timeout = 1 s: the caller gets a MethodTimeout reply, the server keeps serving",
            "lab requirements §7: server, running the method (runs too long) — MethodTimeout reply",
            MethodAsync) { NotGradedBecause = new Dictionary<LabProgram, string> { [LabProgram.Server] = SlowMethod } },
        new("timeout-blocking-method",
            "block(5) blocks its thread and ignores the deadline: MethodTimeout at 1 s all the same, 30 of them leave other clients served, SIGTERM exits within the drain deadline",
            "lab requirements §7: server, running the method (runs too long) — MethodTimeout reply, however the method is written",
            BlockingMethodAsync) { NeedsPosixSignals = true, NotGradedBecause = new Dictionary<LabProgram, string> { [LabProgram.Server] = SlowMethod } },
    ];

    private const string SlowMethod = "it needs a method that runs longer than method_timeout (sleep, block); the lab's ten methods all return at once";

    private static async Task ReadAsync(ScenarioContext context)
    {
        if (context.Foreign.Replaces(LabProgram.Server))
        {
            await ForeignReadAsync(context);
            return;
        }

        (RunningServer server, RawRpcConnection stalledConnection, Stopwatch sent) = await StallAsync(context, TimeSpan.FromSeconds(1), "");
        await using RawRpcConnection stalled = stalledConnection;

        await using (RawRpcConnection other = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation))
        {
            JsonElement reply = await other.CallAsync("add", [1, 2], ScenarioContext.Unexpected, context.Cancellation);
            // "Meanwhile" = while the stalled connection is still open: before its read timeout (1 s)
            // could have closed it, or, on a machine too busy for that, before the server logged closing it.
            bool stalledStillOpen = sent.Elapsed < TimeSpan.FromSeconds(1)
                                    || !server.Process.Lines.Any(line => line.Text.Contains($"Connection from {stalled.LocalEndPoint} closed", StringComparison.Ordinal));
            context.Check(reply.GetProperty("res").GetRawText() == "13" && stalledStillOpen,
                $"meanwhile another connection gets add(1, 2) = 13 while the stalled one is still open ({sent.Elapsed.TotalSeconds:0.00} s after the half request)");
        }

        bool closed = await stalled.WaitForServerToCloseAsync(ScenarioContext.Unexpected, context.Cancellation);
        context.Check(closed && sent.Elapsed >= TimeSpan.FromSeconds(0.9), $"the server closed the stalled connection {sent.Elapsed.TotalSeconds:0.00} s after the half request (read_timeout = 1 s)",
            closed ? "too early" : "it stayed open");
        await context.ExpectLineAsync(server.Process, $@"Connection from {Regex.Escape(stalled.LocalEndPoint.ToString())} closed after 0 calls \(.+\)",
            "the server logged why it closed it");
        context.Check(!server.Process.HasExited, "the server is still running");
    }

    // A foreign server logs nothing we read: the wire is the evidence. Its read_timeout (given in its
    // config file) is 3 s, so "meanwhile" has room on a busy machine: a server that serves connections
    // side by side answers the other call long before it; one that serves one connection at a time
    // cannot answer it before it gives up on the stalled one. The harness watches the stalled
    // connection itself for the moment the server closes it.
    private static async Task ForeignReadAsync(ScenarioContext context)
    {
        TimeSpan readTimeout = TimeSpan.FromSeconds(3);
        (RunningServer server, RawRpcConnection stalledConnection, Stopwatch sent) =
            await StallAsync(context, readTimeout, $" (read_timeout = {readTimeout.TotalSeconds:0} s in its config file)");
        await using RawRpcConnection stalled = stalledConnection;
        // Only a failure waits this long: a server that ignores read_timeout keeps the connection open for good.
        Task<TimeSpan?> closedAt = WatchCloseAsync(stalled, sent, readTimeout + TimeSpan.FromSeconds(10), context.Cancellation);

        TimeSpan meanwhile = readTimeout * 0.9;
        await using (RawRpcConnection other = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation))
        {
            JsonElement? reply = await ConcurrencyScenarios.AnswerOrNullAsync(other.CallAsync("add", [1, 2], meanwhile, context.Cancellation));
            context.Check(reply is { } answer && answer.TryGetProperty("res", out JsonElement sum) && sum.GetRawText() == "13" && sent.Elapsed < meanwhile,
                $"meanwhile another connection gets add(1, 2) = 13 while the stalled one is still open ({sent.Elapsed.TotalSeconds:0.00} s after the half request)",
                reply?.GetRawText() ?? $"no answer within {meanwhile.TotalSeconds:0.#} s while the stalled connection was open: it serves one connection at a time");
        }

        TimeSpan? closed = await closedAt;
        context.Check(closed is { } when && when >= meanwhile, $"the server closed the stalled connection {closed?.TotalSeconds:0.00} s after the half request (read_timeout = {readTimeout.TotalSeconds:0} s)",
            closed is null ? $"it was still open {sent.Elapsed.TotalSeconds:0} s later" : "too early");
        context.Note("whatever the student's server printed about it is not read: the closed connection is the evidence");
        context.Check(!server.Process.HasExited, "the server is still running");
    }

    // Our server and a foreign one meet the same stalled client: a connection that sends half a
    // request and then nothing. Returns the connection (the caller disposes it) and the clock started
    // when the half request went out.
    private static async Task<(RunningServer Server, RawRpcConnection Stalled, Stopwatch Sent)> StallAsync(ScenarioContext context, TimeSpan readTimeout, string stepNote)
    {
        const string HalfRequest = "{\"method_name\": \"add\", \"method_ar";
        context.Config.Set("server:read_timeout", ScenarioContext.Invariant(readTimeout.TotalSeconds));
        context.UseNoRegistry();
        RunningServer server = await context.StartServerAsync();
        RawRpcConnection stalled = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation);
        try
        {
            context.Step($"harness connection {stalled.LocalEndPoint} sends half a request: {HalfRequest}{stepNote}");
            var sent = Stopwatch.StartNew();
            await stalled.SendRawAsync(HalfRequest, context.Cancellation);
            return (server, stalled, sent);
        }
        catch
        {
            await stalled.DisposeAsync();
            throw;
        }
    }

    // When the server closes the connection, measured on sent's clock; null if it is still open after patience.
    private static async Task<TimeSpan?> WatchCloseAsync(RawRpcConnection connection, Stopwatch sent, TimeSpan patience, CancellationToken cancellationToken) =>
        await connection.WaitForServerToCloseAsync(patience, cancellationToken) ? sent.Elapsed : null;

    private static async Task WriteAsync(ScenarioContext context)
    {
        context.Config.Set("server:write_timeout", "1");
        context.UseNoRegistry();
        RunningServer server = await context.StartServerAsync();

        await using RawRpcConnection greedy = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, receiveBufferSize: 4096, cancellationToken: context.Cancellation);
        const int requests = 40, payloadSize = 256 * 1024;
        context.Step($"harness connection {greedy.LocalEndPoint} (a 4 KB receive buffer) sends {requests} echo requests of {payloadSize / 1024} KB and never reads a reply");
        string request = RawRpcConnection.RequestJson("echo", [new string('w', payloadSize)]) + "\n";
        using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(context.Cancellation);
        Task sender = Task.Run(async () =>
        {
            try
            {
                for (int i = 0; i < requests; i++)
                {
                    await greedy.SendRawAsync(request, stopSending.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
            {
                // The server closed the connection (what we expect) or the scenario ended.
            }
        }, CancellationToken.None);

        try
        {
            OutputLine closed = await context.ExpectLineAsync(server.Process, $@"Connection from {Regex.Escape(greedy.LocalEndPoint.ToString())} closed after \d+ calls \(.+\)",
                "the server gave up writing to it and closed the connection");
            context.Check(Regex.IsMatch(closed.Text, "(?i)writ|time"), "the reason mentions the write timing out", closed.Text);

            await using RawRpcConnection other = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation);
            JsonElement reply = await other.CallAsync("add", [1, 2], ScenarioContext.Unexpected, context.Cancellation);
            context.Check(reply.GetProperty("res").GetRawText() == "13", "the server still answers others: add(1, 2) = 13");
        }
        finally
        {
            await stopSending.CancelAsync();
            await greedy.DisposeAsync();
            await sender.WaitAsync(ScenarioContext.Unexpected, CancellationToken.None);
        }
    }

    private static async Task BlockingMethodAsync(ScenarioContext context)
    {
        context.Config.Set("server:method_timeout", "1");
        context.Config.Set("server:drain_timeout", "2");
        context.UseNoRegistry();
        RunningServer server = await context.StartServerAsync();

        await using (RawRpcConnection one = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation))
        {
            context.Step("block(5): a synchronous method that holds its thread for 5 s (Thread.Sleep, no token, no await)");
            var timer = Stopwatch.StartNew();
            JsonElement reply = await one.CallAsync("block", [5], ScenarioContext.Unexpected, context.Cancellation);
            context.Check(HappyPathScenarios.ErrorCode(reply) == "MethodTimeout" && timer.Elapsed < TimeSpan.FromSeconds(2.5),
                $"MethodTimeout after {timer.Elapsed.TotalSeconds:0.00} s (method_timeout = 1 s), not after 5 s: {reply.GetRawText()}");
        }

        await context.ExpectLineAsync(server.Process, @"block\(\) ended after \d+\.\d s, past its method timeout", "when block() finally ends, the server logs a warning about it");

        context.Step("30 connections each call block(5) at once: 30 threads held, more than the machine has cores");
        var blocked = new List<RawRpcConnection>();
        try
        {
            for (int i = 0; i < 30; i++)
            {
                RawRpcConnection connection = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation);
                blocked.Add(connection);
                await connection.SendRequestAsync("block", [5], cancellationToken: context.Cancellation);
            }

            await using (RawRpcConnection other = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation))
            {
                var timer = Stopwatch.StartNew();
                JsonElement add = await other.CallAsync("add", [1, 2], ScenarioContext.Unexpected, context.Cancellation);
                // Derived from block(5): a server whose threads were all taken would answer only once a
                // block() ended, 5 s after it began; the last one began just before this call.
                context.Check(add.GetProperty("res").GetRawText() == "13" && timer.Elapsed < TimeSpan.FromSeconds(5),
                    $"meanwhile another client gets add(1, 2) = 13 in {timer.Elapsed.TotalMilliseconds:0} ms, while the block(5) calls still hold their threads");
            }

            int timedOut = 0;
            foreach (RawRpcConnection connection in blocked)
            {
                timedOut += HappyPathScenarios.ErrorCode(await connection.ReadReplyAsync(ScenarioContext.Unexpected, context.Cancellation)) == "MethodTimeout" ? 1 : 0;
            }

            context.Check(timedOut == 30, $"all 30 blocked callers got MethodTimeout ({timedOut} of 30)");

            context.Step($"one more block(30), then SIGTERM to {server.Process.Name} while it still holds its thread");
            await blocked[0].SendRequestAsync("block", [30], cancellationToken: context.Cancellation);
            JsonElement late = await blocked[0].ReadReplyAsync(ScenarioContext.Unexpected, context.Cancellation);
            context.Check(HappyPathScenarios.ErrorCode(late) == "MethodTimeout", "its caller got MethodTimeout too; the thread sleeps on");
            var signalled = Stopwatch.StartNew();
            int exitCode = await server.Process.TerminateAsync(ScenarioContext.Unexpected, context.Cancellation);
            context.Check(exitCode == 0 && signalled.Elapsed < TimeSpan.FromSeconds(2 + 1 + 1),
                $"the server exited with code 0 {signalled.Elapsed.TotalSeconds:0.00} s after SIGTERM (drain_timeout = 2 s), with block() threads still asleep",
                $"exit code {exitCode}");
            await context.ExpectLineAsync(server.Process, @"Abandoning \d+ method\(s\) still running: block\(\)", "the log names the methods it left behind");
        }
        finally
        {
            foreach (RawRpcConnection connection in blocked)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private static async Task MethodAsync(ScenarioContext context)
    {
        context.Config.Set("server:method_timeout", "1");
        context.UseNoRegistry();
        RunningServer server = await context.StartServerAsync();

        ClientRun run = await context.RunClientAsync([.. server.DirectClientArguments, "sleep", "3"]);
        string? failure = run.StandardError.FirstOrDefault(line => line.Contains(" failed: ", StringComparison.Ordinal));
        context.Check(run.ExitCode == 1 && failure is not null && failure.Contains("MethodTimeout", StringComparison.Ordinal),
            $"the client got a MethodTimeout reply: {failure}", $"exit {run.ExitCode}, stderr: {string.Join(" | ", run.StandardError)}");
        await context.ExpectLineAsync(server.Process, "sleep -> MethodTimeout", "the server logged the timed-out call");

        await using RawRpcConnection connection = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation);
        var timer = Stopwatch.StartNew();
        JsonElement timedOut = await connection.CallAsync("sleep", [3], ScenarioContext.Unexpected, context.Cancellation);
        context.Check(HappyPathScenarios.ErrorCode(timedOut) == "MethodTimeout" && timer.Elapsed < TimeSpan.FromSeconds(2.5),
            $"on the wire: {timedOut.GetRawText()} after {timer.Elapsed.TotalSeconds:0.00} s, not after the full 3 s");
        JsonElement add = await connection.CallAsync("add", [1, 2], ScenarioContext.Unexpected, context.Cancellation);
        context.Check(add.GetProperty("res").GetRawText() == "13", "the same connection then answers add(1, 2) = 13");
    }
}
