using System.Text;
using System.Text.Json;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// Everything working: the registry, two servers and a client doing the lab's demo; the direct mode
/// without a registry; discovery of what a server supports; a message far over 1024 bytes.
/// </summary>
internal static class HappyPathScenarios
{
    public static IEnumerable<Scenario> All =>
    [
        new("happy-path",
            "registry + two servers + a client: every demo method answers correctly and the calls spread over both servers",
            "lab requirements §1: the server registers and serves; the client discovers servers, load-balances, calls as if local",
            HappyPathAsync) { Grades = [LabProgram.Registry, LabProgram.Server, LabProgram.Client] },
        new("direct-mode",
            "a client dials a server by address with no registry at all, over IPv4 and over IPv6",
            "lab requirements §6: two modes, server (direct, -i/-p) and registry; lab requirements §3: IPv4 and IPv6",
            DirectModeAsync) { Grades = [LabProgram.Server, LabProgram.Client] },
        new("discovery",
            "all_your_methods lists the ten demo methods with their parameters; the client can ask whether a method exists",
            "lab requirements §3: the server tells a client whether it supports a function (all_your_methods)",
            DiscoveryAsync) { Grades = [LabProgram.Server] },
        new("large-message",
            "a 200 KB echo round-trips intact, sent in 1000-byte pieces, and a 30 KB one through the client program",
            "lab requirements §3/§11: messages are framed by their JSON end, not cut at 1024 bytes (the sticky-packet lesson)",
            LargeMessageAsync) { Grades = [LabProgram.Server] },
    ];

    private static async Task HappyPathAsync(ScenarioContext context)
    {
        context.Note("the lab's main demo: a registry, two servers that register with it, and a client that finds them through it");
        RunningRegistry registry = await context.StartRegistryAsync();
        RunningServer[] servers = await Task.WhenAll(context.StartServerAsync(), context.StartServerAsync());
        foreach (RunningServer server in servers)
        {
            await context.ExpectRegisteredAsync(registry, server);
        }

        await context.ExpectListedAsync(context.Probe(registry), servers, "discovery lists both servers");

        foreach (RunningServer server in servers)
        {
            context.Narrator.Hide(server.Process.Name, new System.Text.RegularExpressions.Regex("Connection from"));
        }

        context.Note("the servers' per-connection log lines are left out below (they are still recorded)");
        context.Note("the client (registry mode, the lab's default) runs the demo: every demo method, then 30 concurrent calls");
        ClientRun run = await context.RunClientAsync([]);
        CheckDemoRun(context, run, servers);
        if (context.Foreign.Kinds.Count == 0)
        {
            await DashboardScreenshot.CaptureAsync(context, registry, servers);
        }
        else
        {
            // The page is our registry's, the calls it shows our servers' own counts: nothing of the student's to see, and a browser start is costly when a class is graded.
            context.Note("no dashboard screenshot: it shows our registry's view of our servers, and this run grades another implementation");
        }

        if (ProcessSignals.AreSupported)
        {
            context.Note("the end of the demo: Ctrl+C to each server, then to the registry");
            foreach (RunningServer server in servers)
            {
                int serverExit = await server.Process.InterruptAsync(ScenarioContext.Unexpected, context.Cancellation);
                // A foreign server's goodbye is seen where it matters: the registry no longer lists it.
                bool unregistered = server.IsForeign
                    ? !(await context.Probe(registry).ListedAddressesAsync(context.Cancellation)).Contains(server.Address)
                    : server.Process.LinesMatching(new System.Text.RegularExpressions.Regex("Unregistered from registry")).Count > 0;
                context.Check(serverExit == 0 && unregistered, $"{server.Process.Name} unregistered and exited with code 0", $"exit code {serverExit}, unregistered: {unregistered}");
            }

            int registryExit = await registry.Process.InterruptAsync(ScenarioContext.Unexpected, context.Cancellation);
            context.Check(registryExit == 0, "the registry exited with code 0", $"exit code {registryExit}");
        }
    }

    /// <summary>Checks a demo run: exit 0, every printed result right, all ten methods called, calls on each of <paramref name="servers"/>.</summary>
    internal static void CheckDemoRun(ScenarioContext context, ClientRun run, IReadOnlyList<RunningServer> servers)
    {
        context.Check(run.ExitCode == 0, "the client exited with code 0", $"exit code {run.ExitCode}");
        if (run.IsForeign)
        {
            CheckForeignClientRun(context, run, servers);
            return;
        }

        IReadOnlyList<PrintedCall> calls = ClientOutput.Calls(run.Lines);
        string[] wrong = [.. calls.Select(call => (call, verdict: DemoOracle.Judge(call.Method, call.ArgumentText, call.ResultText)))
            .Where(judged => judged.verdict is not null)
            .Select(judged => $"{judged.call.Method}({judged.call.ArgumentText}) = {judged.call.ResultText}: {judged.verdict}")];
        context.Check(calls.Count > 0 && wrong.Length == 0,
            $"all {calls.Count} printed results are correct (the harness computed each one itself)",
            calls.Count == 0 ? "the client printed no result lines" : string.Join("; ", wrong.Take(3)));
        string[] missing = [.. DemoOracle.TenDemoMethods.Where(method => !calls.Any(call => call.Method == method))];
        context.Check(missing.Length == 0, "all ten demo methods were called and answered", $"never answered: {string.Join(", ", missing)}");

        PrintedSummary? summary = ClientOutput.Summary(run.Lines);
        context.Check(summary is { Failed: 0, Succeeded: > 0 }, $"the client's summary reports {summary?.Succeeded} succeeded, 0 failed",
            summary is null ? "no \"Summary:\" line" : $"{summary.Failed} failed");
        foreach (RunningServer server in servers)
        {
            long answered = summary!.PerServer.TryGetValue(server.Address, out var counts) ? counts.Succeeded : 0;
            context.Check(answered > 0, $"{server.Process.Name} ({server.Address}) answered {answered} of the calls",
                $"the summary shows no call answered by {server.Address}");
        }
    }

    // A foreign client prints what it likes; what it did is seen from the servers: each one it could
    // reach accepted its connections. (Our servers log every connection they accept.)
    private static void CheckForeignClientRun(ScenarioContext context, ClientRun run, IReadOnlyList<RunningServer> servers)
    {
        var opened = new System.Text.RegularExpressions.Regex("Connection from .* opened");
        foreach (RunningServer server in servers)
        {
            if (server.IsForeign)
            {
                // Neither end prints what we read: the client's exit code (checked above) is all there is to see.
                context.Note($"{server.Process.Name} is the student's too: which calls reached it cannot be seen from outside; the client's exit code 0 stands for its answers");
                continue;
            }

            int connections = server.Process.LinesMatching(opened).Count;
            context.Check(connections > 0, $"{server.Process.Name} ({server.Address}) accepted {connections} connection(s) from {run.Process.Name}",
                "the client never connected to it");
        }
    }

    private static async Task DirectModeAsync(ScenarioContext context)
    {
        context.UseNoRegistry();
        context.Note("no registry runs in this scenario (config.ini names a port where nothing listens): the server says so once and serves anyway");
        RunningServer server = await context.StartServerAsync();
        ClientRun run = await context.RunClientAsync([.. server.DirectClientArguments]);
        CheckDemoRun(context, run, [server]);

        if (!System.Net.Sockets.Socket.OSSupportsIPv6)
        {
            context.Note("this machine has no IPv6: the [::1] half is not run");
            return;
        }

        context.Note("the same over IPv6: a server listening on ::1, a client dialling -i ::1");
        RunningServer server6 = await context.StartServerAsync(host: "::1");
        context.Check(server6.Address.StartsWith("[::1]:", StringComparison.Ordinal), $"{server6.Process.Name} listens on {server6.Address}");
        ClientRun call = await context.RunClientAsync([.. server6.DirectClientArguments, "add", "1", "2"]);
        if (call.IsForeign)
        {
            CheckDemoRun(context, call, [server6]);
            return;
        }

        PrintedCall? printed = ClientOutput.Calls(call.Lines).FirstOrDefault();
        context.Check(call.ExitCode == 0 && printed is { ResultText: "13" } && printed.Server == server6.Address,
            $"add(1, 2) = 13 answered by {server6.Address}", $"exit {call.ExitCode}, printed {printed?.ResultText ?? "nothing"} from {printed?.Server}");
    }

    private static async Task DiscoveryAsync(ScenarioContext context)
    {
        context.UseNoRegistry();
        RunningServer server = await context.StartServerAsync();

        context.Note("the harness asks the server itself over a raw socket: {\"method_name\": \"all_your_methods\"}");
        await using RawRpcConnection connection = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation);
        JsonElement reply = await connection.CallAsync("all_your_methods", [], ScenarioContext.Unexpected, context.Cancellation);
        context.Check(reply.TryGetProperty("res", out JsonElement methods) && methods.ValueKind == JsonValueKind.Array,
            "all_your_methods answers a list", $"it answered {Narrator.Shorten(reply.GetRawText())}");
        Dictionary<string, JsonElement> byName = methods.EnumerateArray()
            .Where(method => method.TryGetProperty("method_name", out _))
            .ToDictionary(method => method.GetProperty("method_name").GetString()!, StringComparer.Ordinal);
        string[] missing = [.. DemoOracle.TenDemoMethods.Where(name => !byName.ContainsKey(name))];
        context.Check(missing.Length == 0, $"all ten demo methods are registered at once ({byName.Count} methods listed: {string.Join(", ", byName.Keys)})",
            $"missing: {string.Join(", ", missing)}");
        JsonElement add = byName["add"];
        bool addShape = add.TryGetProperty("method_args", out JsonElement required) && required.GetRawText().Replace(" ", "", StringComparison.Ordinal) == "[\"a\",\"b\"]"
            && add.TryGetProperty("method_kwargs", out JsonElement optional) && optional.TryGetProperty("c", out JsonElement c) && c.ValueKind == JsonValueKind.Number && c.GetDouble() == 10;
        context.Check(addShape, $"add is described with its parameters: {add.GetRawText()}", "expected method_args [\"a\",\"b\"] and method_kwargs {\"c\": 10}");
        context.Check(byName.ContainsKey("multiply") && !byName.ContainsKey("power"), "does the server support multiply? yes; power? no");
        JsonElement power = await connection.CallAsync("power", [2, 8], ScenarioContext.Unexpected, context.Cancellation);
        context.Check(ErrorCode(power) == "MethodNotFound", "calling power anyway gets a MethodNotFound reply", $"reply {power.GetRawText()}");

        context.Note("the client program asks the same question");
        ClientRun run = await context.RunClientAsync([.. server.DirectClientArguments, "all_your_methods"]);
        string output = string.Join('\n', run.StandardOutput);
        string[] notShown = [.. DemoOracle.TenDemoMethods.Where(name => !output.Contains($"\"{name}\"", StringComparison.Ordinal))];
        context.Check(run.ExitCode == 0 && notShown.Length == 0, "the client prints the list with all ten methods",
            $"exit {run.ExitCode}, not shown: {string.Join(", ", notShown)}");
    }

    private static async Task LargeMessageAsync(ScenarioContext context)
    {
        context.UseNoRegistry();
        RunningServer server = await context.StartServerAsync();

        string payload = Payload(200 * 1024);
        byte[] request = Encoding.UTF8.GetBytes(RawRpcConnection.RequestJson("echo", [payload]) + "\n");
        context.Step($"sending echo with a {payload.Length / 1024} KB payload ({request.Length} bytes) in {(request.Length + 999) / 1000} pieces of 1000 bytes");
        await using RawRpcConnection connection = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation);
        for (int offset = 0; offset < request.Length; offset += 1000)
        {
            await connection.SendRawAsync(request.AsMemory(offset, Math.Min(1000, request.Length - offset)), context.Cancellation);
        }

        JsonElement reply = await connection.ReadReplyAsync(ScenarioContext.Unexpected, context.Cancellation);
        string? echoed = reply.TryGetProperty("res", out JsonElement res) && res.ValueKind == JsonValueKind.String ? res.GetString() : null;
        context.Check(echoed == payload, $"the reply carries the same {payload.Length} characters back, byte for byte",
            echoed is null ? $"reply {Narrator.Shorten(reply.GetRawText())}" : $"got {echoed.Length} characters, first difference at {FirstDifference(echoed, payload)}: {Narrator.Shorten(echoed)}");

        JsonElement after = await connection.CallAsync("add", [1, 2], ScenarioContext.Unexpected, context.Cancellation);
        context.Check(after.TryGetProperty("res", out JsonElement sum) && sum.GetRawText() == "13", "the same connection then answers add(1, 2) = 13 (the message boundary was found exactly)");

        // Command lines are limited (32 KB on Windows), so the client program gets a smaller, still far-over-1024 payload.
        string cliPayload = Payload(30 * 1024);
        ClientRun run = await context.RunClientAsync([.. server.DirectClientArguments, "echo", cliPayload]);
        PrintedCall? call = ClientOutput.Calls(run.Lines).FirstOrDefault();
        string? result = call is null ? null : JsonString(call.ResultText);
        context.Check(run.ExitCode == 0 && result == cliPayload, $"the client program's echo of {cliPayload.Length} characters comes back intact",
            $"exit {run.ExitCode}, result of {result?.Length ?? 0} characters");
    }

    /// <summary>The <c>code</c> of an error reply, or null for a success.</summary>
    internal static string? ErrorCode(JsonElement reply) =>
        reply.TryGetProperty("error", out JsonElement error) && error.ValueKind == JsonValueKind.Object && error.TryGetProperty("code", out JsonElement code)
            ? code.GetString()
            : null;

    // Varied text (not one repeated byte) so a lost or duplicated chunk cannot go unnoticed.
    private static string Payload(int length)
    {
        var text = new StringBuilder(length);
        for (int i = 0; text.Length < length; i++)
        {
            text.Append("chunk-").Append(i).Append(';');
        }

        return text.ToString(0, length);
    }

    private static string? JsonString(string text)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.String ? document.RootElement.GetString() : text;
        }
        catch (JsonException)
        {
            return text;
        }
    }

    private static int FirstDifference(string a, string b)
    {
        int length = Math.Min(a.Length, b.Length);
        for (int i = 0; i < length; i++)
        {
            if (a[i] != b[i])
            {
                return i;
            }
        }

        return length;
    }
}
