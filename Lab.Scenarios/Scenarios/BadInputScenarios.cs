using System.Text;
using System.Text.Json;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Scenarios;

/// <summary>
/// Wrong calls and broken input: error replies with their codes, malformed and oversized messages
/// to the server, malformed HTTP to the registry, and a client with no server to call. In every case
/// the program on the receiving end keeps serving.
/// </summary>
internal static class BadInputScenarios
{
    public static IEnumerable<Scenario> All =>
    [
        new("error-replies",
            "unknown method, wrong arguments, a method that throws: each gets its error code, and the server keeps serving",
            "lab requirements §3: errors are told apart from results (MethodNotFound, InvalidArguments, MethodFailed); lab requirements §1: survive faults",
            ErrorRepliesAsync) { Grades = [LabProgram.Server] },
        new("bad-input-server",
            "malformed JSON, a non-object, a missing method name, an oversized message: BadRequest / MessageTooLarge, and the server keeps serving",
            "lab requirements §3: no input can crash the server; lab requirements §9: bad input to the server",
            BadInputToServerAsync) { Grades = [LabProgram.Server] },
        new("bad-input-registry",
            "bad JSON, no body, a huge body, a wrong method, non-HTTP bytes to the registry: clear 4xx answers, and it keeps serving",
            "lab requirements §1/§4: the registry survives every kind of bad input, so only an operator stops it",
            BadInputToRegistryAsync) { Grades = [LabProgram.Registry] },
        new("no-server-available",
            "a client in registry mode when no server is registered: a clear \"no server available\" error and a non-zero exit",
            "lab requirements §6/§7: no server available is its own clear error",
            NoServerAvailableAsync) { Grades = [LabProgram.Client] },
    ];

    private static async Task ErrorRepliesAsync(ScenarioContext context)
    {
        context.UseNoRegistry();
        RunningServer server = await context.StartServerAsync();
        await using RawRpcConnection connection = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation);
        context.Note("one raw connection carries every call below: an error reply must not cost the connection");

        await ExpectErrorAsync(context, connection, "power", [2, 8], "MethodNotFound", "an unknown method");
        await ExpectErrorAsync(context, connection, "add", [1], "InvalidArguments", "a missing argument (add(1))");
        await ExpectErrorAsync(context, connection, "add", [1, 2, 3, 4], "InvalidArguments", "too many arguments (add(1, 2, 3, 4))");
        await ExpectErrorAsync(context, connection, "square", ["seven"], "InvalidArguments", "a wrong JSON type (square(\"seven\"))");
        JsonElement divide = await ExpectErrorAsync(context, connection, "divide", [1, 0], "MethodFailed", "a method that throws (divide(1, 0))");
        context.Check(divide.GetProperty("res").GetString() == "Division by zero error!" && divide.GetProperty("error").GetProperty("message").GetString() == "Division by zero error!",
            "its message is the lab's \"Division by zero error!\", in res and in error.message", divide.GetRawText());
        if (!server.IsForeign)
        {
            await ExpectLineAsync(context, server, @"divide -> MethodFailed: Division by zero error!", "the server logged the failed call as a warning");
        }

        JsonElement add = await connection.CallAsync("add", [1, 2], ScenarioContext.Unexpected, context.Cancellation);
        context.Check(add.GetRawText().Replace(" ", "", StringComparison.Ordinal) == "{\"res\":13}", "the same connection still answers add(1, 2) with {\"res\": 13}", add.GetRawText());

        context.Note("the client program turns error replies into typed errors: a clear line on stderr and exit code 1");
        ClientRun failed = await context.RunClientAsync([.. server.DirectClientArguments, "divide", "1", "0"]);
        context.Check(failed.ExitCode == 1 && failed.StandardError.Any(line => line.Contains("failed: MethodFailed: Division by zero error!", StringComparison.Ordinal)),
            "client: divide(1, 0) failed: MethodFailed: Division by zero error! (exit 1)", $"exit {failed.ExitCode}, stderr: {string.Join(" | ", failed.StandardError)}");
        ClientRun wrongArgs = await context.RunClientAsync([.. server.DirectClientArguments, "add", "1"]);
        context.Check(wrongArgs.ExitCode == 1 && wrongArgs.StandardError.Any(line => line.Contains("failed: InvalidArguments:", StringComparison.Ordinal)),
            "client: add(1) failed: InvalidArguments (exit 1)", $"exit {wrongArgs.ExitCode}, stderr: {string.Join(" | ", wrongArgs.StandardError)}");
        context.Check(!server.Process.HasExited, "the server is still running");
    }

    private static async Task BadInputToServerAsync(ScenarioContext context)
    {
        context.UseNoRegistry();
        context.Config.Set("server:max_message_size", "65536");
        RunningServer server = await context.StartServerAsync();

        await using (RawRpcConnection connection = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation))
        {
            context.Note("well-formed JSON that is not a valid request: BadRequest, and the connection goes on");
            await SendExpectingAsync(context, connection, "[1, 2]\n", "BadRequest", "a JSON array instead of an object");
            await SendExpectingAsync(context, connection, "{\"method_args\": [1, 2]}\n", "BadRequest", "an object without method_name");
            await SendExpectingAsync(context, connection, "{\"method_name\": 42}\n", "BadRequest", "a method_name that is a number");
            await SendExpectingAsync(context, connection, "{\"method_name\": \"add\", \"method_args\": {\"a\": 1}}\n", "BadRequest", "method_args that is an object");
            JsonElement add = await connection.CallAsync("add", [1, 2], ScenarioContext.Unexpected, context.Cancellation);
            context.Check(add.GetProperty("res").GetRawText() == "13", "the same connection still answers add(1, 2) = 13");
        }

        await using (RawRpcConnection connection = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation))
        {
            context.Note("bytes that are not JSON: the stream cannot be resynchronised, so the server may answer BadRequest and must close the connection");
            await connection.SendRawAsync("{\"method_name\": \"add\", \"method_args\": [1,, 2]}\n", context.Cancellation);
            context.Check(await connection.WaitForServerToCloseAsync(ScenarioContext.Unexpected, context.Cancellation), "the server closed that connection");
        }

        await using (RawRpcConnection connection = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation))
        {
            context.Note("a 100 KB request against a 64 KB max_message_size: MessageTooLarge, then the connection is closed");
            await connection.SendRequestAsync("echo", [new string('x', 100 * 1024)], cancellationToken: context.Cancellation);
            JsonElement tooLarge = await connection.ReadReplyAsync(ScenarioContext.Unexpected, context.Cancellation);
            context.Check(HappyPathScenarios.ErrorCode(tooLarge) == "MessageTooLarge", "the server answered MessageTooLarge", tooLarge.GetRawText());
            context.Check(await connection.WaitForServerToCloseAsync(ScenarioContext.Unexpected, context.Cancellation), "and closed the connection");
        }

        await using (RawRpcConnection connection = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation))
        {
            context.Note("random binary bytes");
            await connection.SendRawAsync(new byte[] { 0x00, 0xff, 0x13, 0x37, 0x7b, 0x0a }, context.Cancellation);
            context.Check(await connection.WaitForServerToCloseAsync(ScenarioContext.Unexpected, context.Cancellation), "the server closed that connection too");
        }

        await using (RawRpcConnection connection = await RawRpcConnection.ConnectAsync(server.Host, server.Port, ScenarioContext.Unexpected, cancellationToken: context.Cancellation))
        {
            JsonElement add = await connection.CallAsync("add", [1, 2], ScenarioContext.Unexpected, context.Cancellation);
            context.Check(add.GetProperty("res").GetRawText() == "13" && !server.Process.HasExited, "after all that, a new connection gets add(1, 2) = 13: the server is unharmed");
        }
    }

    private static async Task BadInputToRegistryAsync(ScenarioContext context)
    {
        RunningRegistry registry = await context.StartRegistryAsync();
        TimeSpan timeout = ScenarioContext.Unexpected;
        string host = registry.Host;
        int port = registry.Port;

        await ExpectStatusAsync(context, "POST /myRegistry/register with a body that is not JSON", [400],
            RawHttp.SendAsync(host, port, "POST", "/myRegistry/register", "{\"protocol\": \"json\", \"host\": ", timeout, context.Cancellation));
        await ExpectStatusAsync(context, "POST /myRegistry/register with no body at all (no Content-Length)", [400, 411],
            RawHttp.SendAsync(host, port, "POST", "/myRegistry/register", null, timeout, context.Cancellation));
        await ExpectStatusAsync(context, "POST /myRegistry/register with port 70000", [400],
            RawHttp.SendAsync(host, port, "POST", "/myRegistry/register", "{\"protocol\": \"json\", \"host\": \"127.0.0.1\", \"port\": 70000}", timeout, context.Cancellation));
        await ExpectStatusAsync(context, "POST /myRegistry/register without protocol", [400],
            RawHttp.SendAsync(host, port, "POST", "/myRegistry/register", "{\"host\": \"127.0.0.1\", \"port\": 8080}", timeout, context.Cancellation));
        await ExpectStatusAsync(context, "POST /myRegistry/register with a 1 MB body (max_body_size is 64 KB)", [400, 413],
            RawHttp.SendAsync(host, port, "POST", "/myRegistry/register", "{\"pad\": \"" + new string('x', 1024 * 1024) + "\"}", timeout, context.Cancellation));
        await ExpectStatusAsync(context, "GET /myRegistry/register (wrong method)", [404],
            RawHttp.SendAsync(host, port, "GET", "/myRegistry/register", null, timeout, context.Cancellation));
        await ExpectStatusAsync(context, "DELETE /myRegistry/findAllInstances (wrong method)", [404],
            RawHttp.SendAsync(host, port, "DELETE", "/myRegistry/findAllInstances?proto=json", null, timeout, context.Cancellation));
        RawHttpResponse notFound = await ExpectStatusAsync(context, "GET /no/such/path", [404],
            RawHttp.SendAsync(host, port, "GET", "/no/such/path", null, timeout, context.Cancellation));
        context.Check(notFound.Body.Replace(" ", "", StringComparison.Ordinal).Contains("{\"error\":\"NotFound\"}", StringComparison.Ordinal),
            "its body is {\"error\": \"Not Found\"}", notFound.Body);
        RawHttpResponse garbage = await RawHttp.SendBytesAsync(host, port, [0x00, 0x01, 0x02, .. "hello\r\n\r\n"u8.ToArray()], timeout, context.Cancellation);
        context.Check(garbage.Status is 0 or 400, $"bytes that are not HTTP -> {garbage}", "expected 400 or a closed connection");

        context.Note("after all that, the registry must still do its job");
        RawHttpResponse registered = await ExpectStatusAsync(context, "POST /myRegistry/register with a valid InstanceMeta", [200],
            RawHttp.SendAsync(host, port, "POST", "/myRegistry/register", "{\"protocol\": \"json\", \"host\": \"127.0.0.1\", \"port\": 65000, \"status\": true, \"parameters\": {}}", timeout, context.Cancellation));
        context.Check(registered.Body.Contains("\"port\":65000", StringComparison.Ordinal) || registered.Body.Contains("\"port\": 65000", StringComparison.Ordinal),
            "it answers with the instance", registered.Body);
        IReadOnlyList<string> listed = await context.Probe(registry).ListedAddressesAsync(context.Cancellation);
        context.Check(listed.SequenceEqual(["127.0.0.1:65000"]), $"findAllInstances lists exactly the valid instance ({string.Join(", ", listed)}), none of the bad ones");
        await ExpectStatusAsync(context, "POST /myRegistry/unregister of it", [200],
            RawHttp.SendAsync(host, port, "POST", "/myRegistry/unregister", "{\"protocol\": \"json\", \"host\": \"127.0.0.1\", \"port\": 65000}", timeout, context.Cancellation));
        context.Check(!registry.Process.HasExited, "the registry is still running");
    }

    private static async Task NoServerAvailableAsync(ScenarioContext context)
    {
        RunningRegistry registry = await context.StartRegistryAsync();
        await context.ExpectListedAsync(context.Probe(registry), [], "the registry knows no server");
        ClientRun run = await context.RunClientAsync(["add", "1", "2"]);
        context.Check(run.ExitCode != 0, $"the client exited with a non-zero code ({run.ExitCode})");
        if (run.IsForeign)
        {
            return; // its words are its own: only the exit code is graded
        }

        string? message = run.StandardError.FirstOrDefault(line => line.Contains("no server available", StringComparison.OrdinalIgnoreCase));
        context.Check(message is not null, $"its error line says so: {message}", $"stderr: {string.Join(" | ", run.StandardError)}");
        context.Check(!run.Lines.Any(line => line.Text.TrimStart().StartsWith("at ", StringComparison.Ordinal)), "no stack trace, just the clear line");
    }

    private static async Task<JsonElement> ExpectErrorAsync(ScenarioContext context, RawRpcConnection connection, string method, object?[] args, string code, string what)
    {
        JsonElement reply = await connection.CallAsync(method, args, ScenarioContext.Unexpected, context.Cancellation);
        context.Check(HappyPathScenarios.ErrorCode(reply) == code, $"{what} -> {code}: {Narrator.Shorten(reply.GetRawText())}", $"expected {code}");
        return reply;
    }

    private static async Task SendExpectingAsync(ScenarioContext context, RawRpcConnection connection, string raw, string code, string what)
    {
        await connection.SendRawAsync(raw, context.Cancellation);
        JsonElement reply = await connection.ReadReplyAsync(ScenarioContext.Unexpected, context.Cancellation);
        context.Check(HappyPathScenarios.ErrorCode(reply) == code, $"{what} -> {code}: {Narrator.Shorten(reply.GetRawText())}", $"expected {code}");
    }

    private static Task ExpectLineAsync(ScenarioContext context, RunningServer server, string literal, string what) =>
        context.ExpectLineAsync(server.Process, System.Text.RegularExpressions.Regex.Escape(literal), what);

    private static async Task<RawHttpResponse> ExpectStatusAsync(ScenarioContext context, string what, int[] allowed, Task<RawHttpResponse> request)
    {
        RawHttpResponse response = await request;
        context.Check(allowed.Contains(response.Status), $"{what} -> {response}", $"expected {string.Join(" or ", allowed)}");
        return response;
    }
}
