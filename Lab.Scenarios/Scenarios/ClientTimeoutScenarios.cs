using System.Diagnostics;
using System.Text;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// lab requirements §7's client rows: the real client program, in server mode, against a harness socket that
/// misbehaves on purpose in one phase — it must give up after that phase's timeout and say which
/// phase it was.
/// </summary>
internal static class ClientTimeoutScenarios
{
    public static IEnumerable<Scenario> All =>
    [
        new("timeout-client-connect",
            "the server's accept queue is full, so connecting gets no answer: the client's connect timeout fires and names the server",
            "lab requirements §7: client, connecting to the server — a timeout/connection error naming the server",
            ConnectAsync) { NotGradedBecause = new Dictionary<LabProgram, string> { [LabProgram.Client] = ForeignClient + "; a connect that gets no answer leaves no trace on the wire" } },
        new("timeout-client-write",
            "the server never reads, so a 8 MB request cannot be written: the client's write timeout fires",
            "lab requirements §7: client, writing the request — write error/timeout",
            WriteAsync) { NotGradedBecause = new Dictionary<LabProgram, string> { [LabProgram.Client] = ForeignClient + "; its requests are small, and a write blocks only for one far larger than the socket buffers" } },
        new("timeout-client-wait",
            "the server reads the request and never answers: the client's call timeout fires promptly",
            "lab requirements §7: client, waiting for the server to process — call timeout, promptly",
            WaitAsync) { Grades = [LabProgram.Client] },
        new("timeout-client-read",
            "the server sends half a reply and goes silent: the client's read timeout fires",
            "lab requirements §7: client, reading the reply — read error/timeout",
            ReadAsync) { Grades = [LabProgram.Client] },
    ];

    // A foreign client is told only where to go (chapter 13): which call it makes, and what it prints when that call fails, are its own.
    private const string ForeignClient = "the verdict is our client's one call and its error line naming the phase; a foreign client makes its own calls and prints its own errors";

    private static async Task ConnectAsync(ScenarioContext context)
    {
        // The timeout is the subject here, so it is short; the other scenarios give a busy machine more.
        context.Config.Set("client:connect_timeout", "1");
        await using FullBacklogListener listener = await FullBacklogListener.StartAsync(context.Cancellation);
        context.Step($"the harness listens on 127.0.0.1:{listener.Port}, never accepts, and filled its accept queue with {listener.FillerCount} connections");
        await RunAndExpectPhaseAsync(context, listener.Port, ["add", "1", "2"], "client:connect_timeout", "connect",
            mustMention: $"127.0.0.1:{listener.Port}");
    }

    private static async Task WriteAsync(ScenarioContext context)
    {
        await using MisbehavingServer fake = new MisbehavingServer(Misbehaviour.NeverReads);
        context.Step($"the harness listens on 127.0.0.1:{fake.Port}, accepts, and never reads a byte");
        // 8 MB cannot travel on a command line; System.CommandLine expands "@file" (a response
        // file) into the tokens it holds, so the payload goes through a file.
        string payloadFile = Path.Combine(context.WorkDirectory, "payload.rsp");
        await File.WriteAllTextAsync(payloadFile, new string('x', 8 * 1024 * 1024), Encoding.ASCII, context.Cancellation);
        context.Note("the client calls echo with an 8 MB argument (read from a response file, @payload.rsp): far more than the socket buffers hold");
        await RunAndExpectPhaseAsync(context, fake.Port, ["echo", "@" + payloadFile], "client:write_timeout", "writ");
    }

    private static async Task WaitAsync(ScenarioContext context)
    {
        context.Config.Set("client:call_timeout", "1");
        await using MisbehavingServer fake = new MisbehavingServer(Misbehaviour.NeverAnswers);
        context.Step($"the harness listens on 127.0.0.1:{fake.Port}, reads requests, never answers");
        if (context.Foreign.Replaces(LabProgram.Client))
        {
            await ExpectForeignClientGivesUpAsync(context, fake, "client:call_timeout", mustWait: true);
            return;
        }

        await RunAndExpectPhaseAsync(context, fake.Port, ["add", "1", "2"], "client:call_timeout", "wait|call timeout",
            beforeExit: async () =>
            {
                await fake.FirstContact.WaitAsync(ScenarioContext.Unexpected, context.Cancellation);
                context.Step("the harness received the whole request, and stays silent");
            });
    }

    private static async Task ReadAsync(ScenarioContext context)
    {
        context.Config.Set("client:read_timeout", "1");
        await using MisbehavingServer fake = new MisbehavingServer(Misbehaviour.HalfReplyThenStall);
        context.Step($"the harness listens on 127.0.0.1:{fake.Port}, reads the request, sends half a reply ({MisbehavingServer.HalfReplyText}...) and goes silent");
        if (context.Foreign.Replaces(LabProgram.Client))
        {
            // A half reply may be judged broken at once: giving up early is fine, hanging on is not.
            await ExpectForeignClientGivesUpAsync(context, fake, "client:read_timeout", mustWait: false);
            return;
        }

        await RunAndExpectPhaseAsync(context, fake.Port, ["add", "1", "2"], "client:read_timeout", "read",
            beforeExit: async () =>
            {
                await fake.FirstContact.WaitAsync(ScenarioContext.Unexpected, context.Cancellation);
                context.Step("the harness received the request and sent half a reply");
            });
    }

    // A foreign client makes its own calls and prints its own errors; what it does in the phase is
    // seen on the wire: after its first request it waits out the timeout config.ini gives it, then
    // gives up on this connection and closes it. What it does next (more calls, its exit) is its own.
    private static async Task ExpectForeignClientGivesUpAsync(ScenarioContext context, MisbehavingServer fake, string timeoutKey, bool mustWait)
    {
        TimeSpan phaseTimeout = TimeSpan.FromSeconds(double.Parse(context.Config.Get(timeoutKey) ?? "0", System.Globalization.CultureInfo.InvariantCulture));
        context.Note($"{timeoutKey} = {phaseTimeout.TotalSeconds:0.#} s, given to the student's client in its config file");
        ManagedProcess client = context.StartAnyClient(["-m", "server", "-i", fake.Host, "-p", ScenarioContext.Invariant(fake.Port)]);
        await fake.FirstContact.WaitAsync(ScenarioContext.StartupTimeout, context.Cancellation);
        var waited = Stopwatch.StartNew();
        context.Step($"the harness received {client.Name}'s first request");
        // Generous on a busy machine; only a client that never gives up waits this long.
        TimeSpan patience = phaseTimeout + TimeSpan.FromSeconds(5);
        bool gaveUp = await fake.FirstHangUp.WaitAsync(patience, context.Cancellation).ContinueWith(hangUp => hangUp.IsCompletedSuccessfully, TaskScheduler.Default);
        TimeSpan after = waited.Elapsed;
        context.Check(gaveUp && (!mustWait || after >= phaseTimeout * 0.9),
            $"{client.Name} gave up and closed its connection {after.TotalSeconds:0.00} s after its request ({timeoutKey} = {phaseTimeout.TotalSeconds:0.#} s)",
            gaveUp ? "too early: it did not wait for the answer" : $"it was still waiting {after.TotalSeconds:0} s later");
        context.Note("what it printed and what it did next (more calls, its exit code) are its own: not graded here");
    }

    // Runs the client against the misbehaving port and checks: exit code 1, within the phase's
    // timeout plus start-up, an error line on stderr that names the phase.
    private static async Task RunAndExpectPhaseAsync(ScenarioContext context, int port, string[] call, string timeoutKey, string phasePattern,
        string? mustMention = null, Func<Task>? beforeExit = null)
    {
        TimeSpan phaseTimeout = context.Timings.Seconds(timeoutKey);
        if (context.Config.Get(timeoutKey) is { } configured)
        {
            phaseTimeout = TimeSpan.FromSeconds(double.Parse(configured, System.Globalization.CultureInfo.InvariantCulture));
        }

        context.Note($"{timeoutKey} = {phaseTimeout.TotalSeconds:0.#} s");
        var started = Stopwatch.StartNew();
        ManagedProcess client = context.StartClient(["-m", "server", "-i", "127.0.0.1", "-p", ScenarioContext.Invariant(port), .. call]);
        if (beforeExit is not null)
        {
            await beforeExit();
        }

        int exitCode = await client.WaitForExitAsync(ScenarioContext.Unexpected, context.Cancellation);
        context.Step($"{client.Name} exited with code {exitCode} after {started.Elapsed.TotalSeconds:0.0} s (including its start-up)");
        context.Check(exitCode == 1, "the call failed: exit code 1", $"exit code {exitCode}");
        string[] errors = [.. client.Lines.Where(line => line.IsError).Select(line => line.Text)];
        string? failure = errors.FirstOrDefault(line => line.Contains(" failed: ", StringComparison.Ordinal));
        // An 8 MB argument would fill the screen: show the method and everything from " failed: " on.
        string shown = failure is null ? "" : failure.Length <= 240 ? failure : $"{failure[..failure.IndexOf('(', StringComparison.Ordinal)]}(...){failure[failure.IndexOf(" failed: ", StringComparison.Ordinal)..]}";
        context.Check(failure is not null, $"the client printed the failure: {shown}", $"stderr: {string.Join(" | ", errors.Select(Narrator.Shorten))}");
        context.Check(System.Text.RegularExpressions.Regex.IsMatch(failure, phasePattern, System.Text.RegularExpressions.RegexOptions.IgnoreCase),
            $"the error names the phase (/{phasePattern}/)");
        if (mustMention is not null)
        {
            context.Check(failure.Contains(mustMention, StringComparison.Ordinal), $"and the server ({mustMention})");
        }

        context.Check(!client.Lines.Any(line => line.Text.TrimStart().StartsWith("at ", StringComparison.Ordinal)), "no stack trace, just the clear line");
    }
}
