using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Lab.Server;
using Lab.Tests.Server.Support;

namespace Lab.Tests.Server;

/// <summary>Listening, accepting, parallel connections and the graceful stop.</summary>
public class TcpServerTests
{
    private const string AddRequest = """{"method_name": "add", "method_args": [1, 2], "method_kwargs": {}}""";

    [TestCase(10)]
    [TestCase(100)]
    public async Task Calls_on_separate_connections_run_in_parallel(int clients)
    {
        // Every rendezvous call returns only when all of them are inside the method at once; served one
        // after another, the first would wait alone until its method timeout.
        // A generous method timeout: on a loaded machine, connecting 100 clients may take a while.
        await using var server = new RunningTcpServer(TestSettings.Server() with { MethodTimeout = TimeSpan.FromSeconds(20) });
        RawRpcConnection[] connections = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => server.ConnectAsync()));
        try
        {
            string request = $$"""{"method_name": "rendezvous", "method_args": ["parallel-{{clients}}", {{clients}}]}""";
            JsonElement[] replies = await Task.WhenAll(connections.Select(connection => connection.CallAsync(request)));

            replies.ShouldAllBe(reply => reply.GetProperty("res").GetInt32() == clients);
        }
        finally
        {
            foreach (RawRpcConnection connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Test]
    public async Task Stop_with_idle_clients_connected_completes_promptly()
    {
        await using var server = new RunningTcpServer(TestSettings.Server() with { DrainTimeout = TimeSpan.FromSeconds(30) });
        await using RawRpcConnection idle1 = await server.ConnectAsync();
        await using RawRpcConnection idle2 = await server.ConnectAsync();
        (await idle1.CallAsync(AddRequest)).Result().GetDouble().ShouldBe(13);
        await server.Log.WaitForLineAsync("Connection from .* opened", occurrences: 2);

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await server.Server.StopAsync().WaitAsync(TestTimeouts.Unexpected);

        // Far below the 30 s drain timeout: idle connections are closed at once, not waited for.
        stopping.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(5));
        (await idle1.WaitForServerToCloseAsync()).ShouldBeTrue("the server closes the connection");
        (await idle2.WaitForServerToCloseAsync()).ShouldBeTrue("the server closes the connection");
        await server.Log.WaitForLineAsync("Connection from .* closed", occurrences: 2);
    }

    [Test]
    public async Task Stop_lets_an_in_flight_call_finish_and_send_its_reply()
    {
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new RunningTcpServer(register: stub => stub.Register("gate", () =>
        {
            inside.TrySetResult();
            return gate.Task;
        }));
        await using RawRpcConnection client = await server.ConnectAsync();
        await client.SendRawAsync("""{"method_name": "gate"}""");
        await inside.Task.WaitAsync(TestTimeouts.Unexpected);

        Task stop = server.Server.StopAsync();
        gate.SetResult("finished");
        JsonElement reply = await client.ReadReplyAsync();
        await stop.WaitAsync(TestTimeouts.Unexpected);

        reply.Result().GetString().ShouldBe("finished");
        (await client.WaitForServerToCloseAsync()).ShouldBeTrue("the server closes the connection");
        await server.Log.WaitForLineAsync(@"closed after 1 calls \(server stopping\)");
    }

    [Test]
    public async Task Stop_cancels_a_call_still_running_at_the_drain_deadline()
    {
        var settings = TestSettings.Server() with { DrainTimeout = TimeSpan.FromSeconds(0.2) };
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new RunningTcpServer(settings, stub => stub.Register("wait_forever", async (CancellationToken cancellationToken) =>
        {
            inside.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }));
        await using RawRpcConnection client = await server.ConnectAsync();
        await client.SendRawAsync("""{"method_name": "wait_forever"}""");
        // The call must be running when the stop begins: a request still unread would make the connection idle.
        await inside.Task.WaitAsync(TestTimeouts.Unexpected);

        await server.Server.StopAsync().WaitAsync(TestTimeouts.Unexpected);

        await server.Log.WaitForLineAsync("Calls still running after the drain timeout of 0.2 s");
        (await client.WaitForServerToCloseAsync()).ShouldBeTrue("the server closes the connection");
        await server.Log.WaitForLineAsync("Connection from .* closed");
    }

    [Test]
    public async Task Listens_on_IPv6_loopback()
    {
        if (!Socket.OSSupportsIPv6)
        {
            Assert.Ignore("IPv6 is not available on this machine");
        }

        await using var server = new RunningTcpServer(TestSettings.Server() with { Host = "::1" });
        await using RawRpcConnection client = await RawRpcConnection.ConnectAsync(new IPEndPoint(IPAddress.IPv6Loopback, server.EndPoint.Port));

        (await client.CallAsync(AddRequest)).Result().GetDouble().ShouldBe(13);
        server.EndPoint.Address.ShouldBe(IPAddress.IPv6Loopback);
    }

    [Test]
    public async Task Listening_on_the_IPv6_wildcard_also_accepts_IPv4_clients_and_logs_them_as_IPv4()
    {
        if (!Socket.OSSupportsIPv6)
        {
            Assert.Ignore("IPv6 is not available on this machine");
        }

        await using var server = new RunningTcpServer(TestSettings.Server() with { Host = "::" });
        await using RawRpcConnection client = await RawRpcConnection.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.EndPoint.Port));

        (await client.CallAsync(AddRequest)).Result().GetDouble().ShouldBe(13);
        await server.Log.WaitForLineAsync(@"Connection from 127\.0\.0\.1:\d+ opened");
    }

    [Test]
    public async Task Port_in_use_fails_to_start_with_a_clear_message()
    {
        await using var first = new RunningTcpServer();
        var second = new TcpServer(first.Stub, TestSettings.Server() with { Port = first.EndPoint.Port }, first.Log.CreateFactory());

        ServerStartException error = Should.Throw<ServerStartException>(second.Start);

        error.Message.ShouldBe($"cannot listen on 127.0.0.1:{first.EndPoint.Port}: the address is already in use");
    }

    [TestCase("not-an-address")]
    [TestCase("1.2.3")]
    public void Invalid_listen_address_is_refused(string host) =>
        Should.Throw<ServerStartException>(new TcpServer(new ServerStub(TimeSpan.FromSeconds(1)), TestSettings.Server() with { Host = host }, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).Start).Message.ShouldContain($"invalid listen address \"{host}\"");
}
