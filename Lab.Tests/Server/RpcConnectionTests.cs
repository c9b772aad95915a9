using System.Text;
using System.Text.Json;
using Lab.Server;
using Lab.Tests.Server.Support;

namespace Lab.Tests.Server;

/// <summary>One connection's request/reply loop: framing, error replies and timeouts, over real sockets.</summary>
public class RpcConnectionTests
{
    private const string AddRequest = """{"method_name": "add", "method_args": [1, 2], "method_kwargs": {}}""";

    [Test]
    public async Task Raw_add_request_gets_res_13()
    {
        await using var server = new RunningTcpServer();
        await using RawRpcConnection client = await server.ConnectAsync();

        await client.SendRawAsync(AddRequest);

        (await client.ReadReplyTextAsync()).ShouldBe("""{"res":13}""");
        await server.Log.WaitForLineAsync(@"DEBUG TcpServer: 127\.0\.0\.1:\d+ add -> ok in \d+\.\d ms");
    }

    [Test]
    public async Task Two_requests_in_one_write_get_two_replies_in_order()
    {
        await using var server = new RunningTcpServer();
        await using RawRpcConnection client = await server.ConnectAsync();

        await client.SendRawAsync("""{"method_name": "square", "method_args": [3]}{"method_name": "hi", "method_args": ["Ada"]}""" + "\n");

        (await client.ReadReplyTextAsync()).ShouldBe("""{"res":9}""");
        (await client.ReadReplyTextAsync()).ShouldBe("""{"res":"hi Ada, welcome"}""");
    }

    [Test]
    public async Task Request_split_over_many_writes_is_reassembled()
    {
        await using var server = new RunningTcpServer();
        await using RawRpcConnection client = await server.ConnectAsync();

        foreach (byte b in Encoding.UTF8.GetBytes(AddRequest))
        {
            await client.SendRawAsync([b]);
        }

        (await client.ReadReplyTextAsync()).ShouldBe("""{"res":13}""");
    }

    [Test]
    public async Task One_MiB_payload_is_echoed_whole()
    {
        await using var server = new RunningTcpServer(TestSettings.Server() with { MaxMessageSize = 2 * 1024 * 1024 });
        await using RawRpcConnection client = await server.ConnectAsync();
        string payload = string.Create(1024 * 1024, 0, (span, _) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = (char)('a' + (i % 26));
            }
        });

        JsonElement reply = await client.CallAsync($$"""{"method_name": "echo", "method_args": ["{{payload}}"]}""");

        reply.Result().GetString().ShouldBe(payload);
    }

    [TestCase("[1, 2]")]
    [TestCase("{}")]
    [TestCase("\"add\"")]
    [TestCase("""{"method_name": 42}""")]
    [TestCase("""{"method_name": "add", "method_args": {"a": 1}}""")]
    public async Task Valid_JSON_that_is_not_a_request_is_BadRequest_and_keeps_the_connection(string message)
    {
        await using var server = new RunningTcpServer();
        await using RawRpcConnection client = await server.ConnectAsync();

        JsonElement bad = await client.CallAsync(message);
        JsonElement next = await client.CallAsync(AddRequest);

        bad.ErrorCode().ShouldBe("BadRequest");
        next.Result().GetDouble().ShouldBe(13);
    }

    [Test]
    public async Task Unknown_method_returns_MethodNotFound_and_keeps_connection()
    {
        await using var server = new RunningTcpServer();
        await using RawRpcConnection client = await server.ConnectAsync();

        JsonElement missing = await client.CallAsync("""{"method_name": "nope"}""");
        JsonElement next = await client.CallAsync(AddRequest);

        missing.ErrorCode().ShouldBe("MethodNotFound");
        missing.GetProperty("res").GetString().ShouldBe(missing.GetProperty("error").GetProperty("message").GetString());
        next.Result().GetDouble().ShouldBe(13);
    }

    [Test]
    public async Task Bad_arguments_return_InvalidArguments_and_a_throwing_method_MethodFailed()
    {
        await using var server = new RunningTcpServer();
        await using RawRpcConnection client = await server.ConnectAsync();

        JsonElement badType = await client.CallAsync("""{"method_name": "add", "method_args": ["abc", 2]}""");
        JsonElement divide = await client.CallAsync("""{"method_name": "divide", "method_args": [1, 0]}""");

        badType.ErrorCode().ShouldBe("InvalidArguments");
        divide.ErrorCode().ShouldBe("MethodFailed");
        divide.GetProperty("res").GetString().ShouldBe("Division by zero error!");
        await server.Log.WaitForLineAsync(@"WARN  TcpServer: 127\.0\.0\.1:\d+ divide -> MethodFailed: Division by zero error!");
    }

    [Test]
    public async Task Result_JSON_cannot_carry_is_a_MethodFailed_reply_and_the_connection_lives()
    {
        await using var server = new RunningTcpServer(register: stub => stub.Register("nan", () => double.NaN));
        await using RawRpcConnection client = await server.ConnectAsync();

        JsonElement nan = await client.CallAsync("""{"method_name": "nan"}""");
        JsonElement next = await client.CallAsync(AddRequest);

        nan.ErrorCode().ShouldBe("MethodFailed");
        next.Result().GetDouble().ShouldBe(13);
    }

    [Test]
    public async Task Method_past_the_method_timeout_gets_MethodTimeout()
    {
        await using var server = new RunningTcpServer(TestSettings.Server() with { MethodTimeout = TimeSpan.FromSeconds(0.2) });
        await using RawRpcConnection client = await server.ConnectAsync();

        JsonElement reply = await client.CallAsync("""{"method_name": "sleep", "method_args": [60]}""");

        reply.ErrorCode().ShouldBe("MethodTimeout");
    }

    [Test]
    public async Task Garbage_gets_BadRequest_then_close_and_other_connections_are_unaffected()
    {
        await using var server = new RunningTcpServer();
        await using RawRpcConnection bystander = await server.ConnectAsync();
        await using RawRpcConnection attacker = await server.ConnectAsync();

        await attacker.SendRawAsync("hello}{]\n");
        JsonElement reply = await attacker.ReadReplyAsync();
        (await attacker.WaitForServerToCloseAsync()).ShouldBeTrue("the server closes the connection");

        reply.ErrorCode().ShouldBe("BadRequest");
        (await bystander.CallAsync(AddRequest)).Result().GetDouble().ShouldBe(13);
        await server.Log.WaitForLineAsync(@"closed after 0 calls \(bad request: not valid JSON\)");
    }

    [Test]
    public async Task Oversized_message_gets_MessageTooLarge_then_close_and_other_connections_are_unaffected()
    {
        await using var server = new RunningTcpServer(TestSettings.Server() with { MaxMessageSize = 1024 });
        await using RawRpcConnection bystander = await server.ConnectAsync();
        await using RawRpcConnection attacker = await server.ConnectAsync();

        await attacker.SendRawAsync($$"""{"method_name": "echo", "method_args": ["{{new string('x', 64 * 1024)}}"]}""");
        JsonElement reply = await attacker.ReadReplyAsync();
        (await attacker.WaitForServerToCloseAsync()).ShouldBeTrue("the server closes the connection");

        reply.ErrorCode().ShouldBe("MessageTooLarge");
        (await bystander.CallAsync(AddRequest)).Result().GetDouble().ShouldBe(13);
    }

    [Test]
    public async Task Half_a_request_then_silence_is_closed_after_the_read_timeout_while_idle_connections_stay()
    {
        await using var server = new RunningTcpServer();
        await using RawRpcConnection idle = await server.ConnectAsync();
        await using RawRpcConnection staller = await server.ConnectAsync();

        await staller.SendRawAsync("""{"method_name": "ad""");
        (await staller.WaitForServerToCloseAsync()).ShouldBeTrue("the server closes the connection");

        await server.Log.WaitForLineAsync(@"closed after 0 calls \(timed out after 0\.3 s waiting for the rest of a message");
        // The idle connection has now been silent longer than the read timeout, and still works.
        (await idle.CallAsync(AddRequest)).Result().GetDouble().ShouldBe(13);
    }

    [Test]
    public async Task Client_that_never_reads_makes_the_write_time_out_and_the_connection_is_freed()
    {
        await using var server = new RunningTcpServer(TestSettings.Server() with { MaxMessageSize = 2 * 1024 * 1024 });
        await using RawRpcConnection lazy = await server.ConnectAsync(receiveBufferSize: 4096);
        byte[] request = Encoding.UTF8.GetBytes($$"""{"method_name": "echo", "method_args": ["{{new string('x', 512 * 1024)}}"]}""");

        // Keep asking for large replies without reading any: the server's send buffer and our
        // receive window fill up, and its next write blocks until write_timeout.
        Task flood = Task.Run(async () =>
        {
            try
            {
                for (int i = 0; i < 1000; i++)
                {
                    await lazy.SendRawAsync(request);
                }
            }
            catch (IOException)
            {
                // The server closed the connection: the flood is over.
            }
        });

        await server.Log.WaitForLineAsync(@"closed after \d+ calls \(write timed out after 0\.3 s: the client is not reading its replies\)");
        await flood.WaitAsync(TestTimeouts.Unexpected);
    }
}
