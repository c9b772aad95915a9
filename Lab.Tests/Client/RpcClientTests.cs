using System.Text.Json;
using Lab.Client;
using Lab.Protocol.Messages;
using Lab.Tests.Client.Support;
using Lab.Tests.Server.Support;

namespace Lab.Tests.Client;

// RpcClient in direct mode (-m server): calls, errors, connection reuse, discovery, disposal.
// Registry mode and failover: RpcClientRegistryModeTests.
public class RpcClientTests
{
    [Test]
    public async Task A_call_returns_the_result_and_names_the_server_that_answered()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using RpcClient client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast);

        long sum = await client.CallAsync<long>("add", [1, 2]);
        RpcCallResult<long> detailed = await client.CallDetailedAsync<long>("add", [1, 2], new Dictionary<string, object?> { ["c"] = 5 });

        sum.ShouldBe(13);
        detailed.Value.ShouldBe(8);
        detailed.Server.ShouldBe(server.Address);
    }

    [Test]
    public async Task Results_deserialize_to_the_requested_type_or_stay_raw_as_JsonElement()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using RpcClient client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast);

        string? greeting = await client.CallAsync<string>("hi", ["bob"]);
        int[]? numbers = await client.CallAsync<int[]>("echo", [new[] { 1, 2, 3 }]);
        JsonElement raw = await client.CallAsync<JsonElement>("echo", [new Dictionary<string, object?> { ["k"] = "v" }]);

        greeting.ShouldBe("hi bob, welcome");
        numbers.ShouldBe([1, 2, 3]);
        raw.GetProperty("k").GetString().ShouldBe("v");
    }

    [Test]
    public async Task A_message_far_over_1024_bytes_goes_both_ways_intact()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using RpcClient client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast);
        string payload = string.Concat(Enumerable.Range(0, 50_000).Select(i => (char)('a' + (i % 26))));

        string? echoed = await client.CallAsync<string>("echo", [payload]);

        echoed.ShouldBe(payload);
    }

    [TestCase("divide", new object[] { 1, 0 }, RpcErrorCode.MethodFailed, "Division by zero error!")]
    [TestCase("fly", new object[] { }, RpcErrorCode.MethodNotFound, "no method named 'fly'")]
    [TestCase("add", new object[] { 1 }, RpcErrorCode.InvalidArguments, "add() is missing required argument 'b'")]
    public async Task An_error_reply_raises_RpcRemoteException_with_its_code_and_message(string method, object[] args, RpcErrorCode code, string message)
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using RpcClient client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast);

        var failure = await Should.ThrowAsync<RpcRemoteException>(() => client.CallAsync<JsonElement>(method, args));

        failure.Code.ShouldBe(code);
        failure.RemoteMessage.ShouldBe(message);
        failure.Method.ShouldBe(method);
        failure.Server.ShouldBe(server.Address);
    }

    [Test]
    public async Task A_hundred_sequential_calls_use_one_connection()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using RpcClient client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast);

        for (int i = 0; i < 100; i++)
        {
            (await client.CallAsync<long>("add", [i, 1])).ShouldBe(i + 11);
        }

        server.AcceptedConnections.ShouldBe(1);
        server.CallsAnswered.ShouldBe(100);
    }

    [Test]
    public async Task Concurrent_calls_run_in_parallel_on_separate_connections()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using RpcClient client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast);

        Task<string?>[] calls = Enumerable.Range(0, 10).Select(_ => client.CallAsync<string>("hold")).ToArray();
        // All ten are inside the server at once: none waits for another to finish.
        await server.WaitUntilAsync(s => s.HeldCalls == 10, "ten calls held at once");
        server.ReleaseHeldCalls();
        string?[] results = await Task.WhenAll(calls);

        results.ShouldAllBe(result => result == "released");
        server.AcceptedConnections.ShouldBe(10);
    }

    [Test]
    public async Task A_server_restarted_between_calls_is_reached_on_a_fresh_connection_without_error()
    {
        RunningTcpServer first = RunningTcpServer.Start("first");
        await using RpcClient client = RpcClient.Direct(first.Host, first.Port, ClientTestSettings.Fast);
        (await client.CallAsync<string>("whoami")).ShouldBe("first");

        await first.StopAsync();
        await using RunningTcpServer second = RunningTcpServer.Start("second", port: first.Port);

        (await client.CallAsync<string>("whoami")).ShouldBe("second");
    }

    [Test]
    public async Task Direct_mode_reports_the_failing_phase_itself_rather_than_no_server_available()
    {
        await using var server = new MisbehavingServer(Misbehaviour.NeverAnswers);
        await using RpcClient client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast with { CallTimeout = TestTimeouts.Short });

        var failure = await Should.ThrowAsync<RpcCallTimeoutException>(() => client.CallAsync<long>("add", [1, 2]));

        failure.Server.ShouldBe(server.Address);
    }

    [Test]
    public async Task SupportsAsync_answers_from_all_your_methods_and_asks_each_server_once()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using RpcClient client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast);

        bool add = await client.SupportsAsync("add");
        bool fly = await client.SupportsAsync("fly");
        bool hello = await client.SupportsAsync("hello");

        add.ShouldBeTrue();
        fly.ShouldBeFalse();
        hello.ShouldBeTrue();
        server.CallsAnswered.ShouldBe(1);
    }

    [Test]
    public async Task Dispose_closes_every_connection_the_client_opened()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        RpcClient client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast);
        Task<string?>[] calls = Enumerable.Range(0, 5).Select(_ => client.CallAsync<string>("hold")).ToArray();
        await server.WaitUntilAsync(s => s.HeldCalls == 5, "five calls in progress");
        server.ReleaseHeldCalls();
        await Task.WhenAll(calls);
        Task<string?> stillRunning = client.CallAsync<string>("hold");
        await server.WaitUntilAsync(s => s.HeldCalls == 6, "one more call in progress");

        await client.DisposeAsync();
        // The held call's handler is not reading; once released it reads again and finds the client gone.
        server.ReleaseHeldCalls();

        await server.WaitUntilAsync(s => s.OpenConnections == 0, "every connection to close");
        await Should.ThrowAsync<RpcReadException>(stillRunning);
        await Should.ThrowAsync<ObjectDisposedException>(() => client.CallAsync<long>("add", [1, 2]));
    }

    [Test]
    public async Task Synchronous_Dispose_closes_the_connections_too()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        var client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast);
        (await client.CallAsync<long>("add", [1, 2])).ShouldBe(13);

        client.Dispose();

        await server.WaitUntilAsync(s => s.OpenConnections == 0, "the connection to close");
    }

    [Test]
    public async Task A_call_cancelled_by_the_caller_ends_promptly_and_the_next_call_works()
    {
        await using RunningTcpServer server = RunningTcpServer.Start();
        await using RpcClient client = RpcClient.Direct(server.Host, server.Port, ClientTestSettings.Fast);
        using var cancellation = new CancellationTokenSource();

        Task<string?> held = client.CallAsync<string>("hold", cancellationToken: cancellation.Token);
        await server.WaitUntilAsync(s => s.HeldCalls == 1, "the call to arrive");
        await cancellation.CancelAsync();

        await Should.ThrowAsync<OperationCanceledException>(held);
        (await client.CallAsync<long>("add", [1, 2])).ShouldBe(13);
    }
}
