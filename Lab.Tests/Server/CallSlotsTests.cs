using System.Text.Json;
using Lab.Protocol.Messages;
using Lab.Server;
using Lab.Testing;
using Lab.Tests.Server.Support;
using Microsoft.Extensions.Logging;
using Lab.Server.Demo;

namespace Lab.Tests.Server;

/// <summary>
/// Methods that block their thread, the way a student's synchronous method does: the deadline still
/// holds, other calls are still served, and the bound on calls gives ServerBusy instead of a queue.
/// Blocking methods here wait on an event the test releases, so nothing depends on the clock. A method
/// runs on the thread that calls the stub, so the stub-level tests start blocking calls with Task.Run;
/// what a caller sees at the deadline is the connection's work and is tested through a real server.
/// </summary>
[Parallelizable(ParallelScope.All)]
public class CallSlotsTests
{
    [Test]
    public async Task A_method_that_blocks_its_thread_gets_MethodTimeout_at_the_deadline_and_the_connection_goes_on()
    {
        using var release = new ManualResetEventSlim();
        var settings = TestSettings.Server() with { MethodTimeout = TimeSpan.FromSeconds(0.2) };
        await using var server = new RunningTcpServer(settings, stub => stub.Register("stuck", () => release.Wait(TestTimeouts.Unexpected)));
        await using RawRpcConnection client = await server.ConnectAsync();

        JsonElement reply = await client.CallAsync(RawRpcConnection.RequestJson("stuck"));

        reply.GetProperty("error").GetProperty("code").GetString().ShouldBe("MethodTimeout");
        reply.GetProperty("error").GetProperty("message").GetString().ShouldBe("stuck() did not finish within the method timeout of 0.2 s");
        server.Stub.RunningMethods.ShouldHaveSingleItem().ShouldStartWith("stuck() for ");
        // The method still holds the thread that read its request; the next request is served all the same.
        (await client.CallAsync(RawRpcConnection.RequestJson("add", [1, 2]))).GetProperty("res").GetDouble().ShouldBe(13.0);
        server.Log.Count(LogLevel.Warning, "stuck() ended").ShouldBe(0);

        release.Set();

        await server.Log.WaitForAsync(LogLevel.Warning, "stuck() ended after");
        server.Log.Lines.ShouldContain(line => line.Contains("past its method timeout of 0.2 s; its caller had a MethodTimeout reply", StringComparison.Ordinal));
    }

    [Test]
    public async Task Thirty_blocked_methods_do_not_delay_an_unrelated_call()
    {
        using var release = new ManualResetEventSlim();
        var stub = new ServerStub(TimeSpan.FromSeconds(30));
        new DemoMethods().RegisterAll(stub);
        stub.Register("stuck", () => release.Wait(TestTimeouts.Unexpected));
        Task<CallResult>[] stuck = [.. Enumerable.Range(0, 30).Select(_ => Task.Run(() => CallAsync(stub, "stuck")))];
        await WaitUntilAsync(() => stub.RunningMethods.Count == 30);

        // Thirty threads are blocked (more than this machine has cores). The pool was told to start a thread at
        // once for each running call, plus two per core for connections (by default it adds about two a second).
        ThreadPool.GetMinThreads(out int minimumThreads, out _);
        minimumThreads.ShouldBeGreaterThanOrEqualTo(30 + (2 * Environment.ProcessorCount));
        CallResult add = await Task.Run(() => CallAsync(stub, "add", "[1, 2]")).WaitAsync(TestTimeouts.Unexpected);

        add.Value.ShouldBe(13.0);
        stuck.ShouldAllBe(call => !call.IsCompleted);
        release.Set();
        (await Task.WhenAll(stuck).WaitAsync(TestTimeouts.Unexpected)).ShouldAllBe(result => result.IsSuccess);
    }

    [Test]
    public async Task A_call_beyond_max_concurrent_calls_is_ServerBusy_and_never_runs()
    {
        using var release = new ManualResetEventSlim();
        int runs = 0;
        var stub = new ServerStub(TimeSpan.FromSeconds(30), maxConcurrentCalls: 2);
        stub.Register("stuck", () =>
        {
            Interlocked.Increment(ref runs);
            release.Wait(TestTimeouts.Unexpected);
        });
        Task<CallResult>[] first = [Task.Run(() => CallAsync(stub, "stuck")), Task.Run(() => CallAsync(stub, "stuck"))];
        await WaitUntilAsync(() => Volatile.Read(ref runs) == 2);

        CallResult third = await CallAsync(stub, "stuck");

        third.ErrorCode.ShouldBe(RpcErrorCode.ServerBusy);
        third.ErrorMessage.ShouldBe("the server is busy: all 2 method slots (max_concurrent_calls) are taken; try again later");
        Volatile.Read(ref runs).ShouldBe(2);

        // Slots come back when the methods really end: the next call runs.
        release.Set();
        await Task.WhenAll(first).WaitAsync(TestTimeouts.Unexpected);
        await WaitUntilAsync(() => stub.RunningMethods.Count == 0);
        (await Task.Run(() => CallAsync(stub, "stuck")).WaitAsync(TestTimeouts.Unexpected)).IsSuccess.ShouldBeTrue();
    }

    [Test]
    public async Task The_client_raises_RpcServerBusyException_when_every_slot_is_taken()
    {
        using var release = new ManualResetEventSlim();
        var settings = TestSettings.Server() with { MaxConcurrentCalls = 1 };
        await using var server = new RunningTcpServer(settings, stub => stub.Register("stuck", () => release.Wait(TestTimeouts.Unexpected)));
        await using Lab.Client.RpcClient client = Lab.Client.RpcClient.Direct("127.0.0.1", server.EndPoint.Port, Lab.Tests.Client.Support.ClientTestSettings.Fast);
        Task<bool> first = client.CallAsync<bool>("stuck", []);
        await WaitUntilAsync(() => server.Stub.RunningMethods.Count == 1);

        var busy = await Should.ThrowAsync<Lab.Client.RpcServerBusyException>(() => client.CallAsync<bool>("stuck", []));

        busy.RequestSent.ShouldBeFalse();
        busy.Message.ShouldContain("refused: ServerBusy: the server is busy");
        release.Set();
        (await first.WaitAsync(TestTimeouts.Unexpected)).ShouldBeTrue();
    }

    [Test]
    public async Task A_slot_stays_taken_while_a_timed_out_method_still_runs()
    {
        using var release = new ManualResetEventSlim();
        var settings = TestSettings.Server() with { MethodTimeout = TimeSpan.FromSeconds(0.1), MaxConcurrentCalls = 1 };
        await using var server = new RunningTcpServer(settings, stub => stub.Register("stuck", () => release.Wait(TestTimeouts.Unexpected)));
        await using RawRpcConnection client = await server.ConnectAsync();

        (await client.CallAsync(RawRpcConnection.RequestJson("stuck"))).GetProperty("error").GetProperty("code").GetString().ShouldBe("MethodTimeout");

        // The caller gave up, the thread did not: a second call must not pile onto it.
        (await client.CallAsync(RawRpcConnection.RequestJson("stuck"))).GetProperty("error").GetProperty("code").GetString().ShouldBe("ServerBusy");
        release.Set();
    }

    [Test]
    public async Task An_async_method_that_blocks_before_its_first_await_still_times_out()
    {
        using var release = new ManualResetEventSlim();
        var settings = TestSettings.Server() with { MethodTimeout = TimeSpan.FromSeconds(0.2) };
        await using var server = new RunningTcpServer(settings, stub => stub.Register("late_await", async () =>
        {
            release.Wait(TestTimeouts.Unexpected);
            await Task.Yield();
            return 1;
        }));
        await using RawRpcConnection client = await server.ConnectAsync();

        JsonElement reply = await client.CallAsync(RawRpcConnection.RequestJson("late_await"));

        reply.GetProperty("error").GetProperty("code").GetString().ShouldBe("MethodTimeout");
        release.Set();
    }

    private static async Task<CallResult> CallAsync(ServerStub stub, string method, string args = "[]")
    {
        using JsonDocument document = JsonDocument.Parse($$"""{"method_name": "{{method}}", "method_args": {{args}}}""");
        return await stub.DispatchAsync(RpcRequest.Parse(document.RootElement));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Unexpected);
        while (!condition())
        {
            await Task.Delay(TestTimeouts.Poll, timeout.Token);
        }
    }
}
