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
/// holds, other calls are still served, a method past its deadline keeps its own arguments, and the bound
/// on calls gives ServerBusy instead of a queue. Blocking methods here wait on an event the test releases,
/// so nothing depends on the clock.
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
        // The method still holds its thread; the next request is served all the same.
        (await client.CallAsync(RawRpcConnection.RequestJson("add", [1, 2]))).GetProperty("res").GetDouble().ShouldBe(13.0);
        server.Log.Count(LogLevel.Warning, "stuck() ended").ShouldBe(0);

        release.Set();

        await server.Log.WaitForAsync(LogLevel.Warning, "stuck() ended after");
        server.Log.Lines.ShouldContain(line => line.Contains("past its method timeout of 0.2 s; its caller had a MethodTimeout reply", StringComparison.Ordinal));
    }

    [Test]
    public async Task A_method_past_its_deadline_finds_its_arguments_intact_while_the_connection_serves_the_next_calls()
    {
        using var release = new ManualResetEventSlim();
        var readAfterRelease = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var settings = TestSettings.Server() with { MethodTimeout = TimeSpan.FromSeconds(0.2) };
        await using var server = new RunningTcpServer(settings, stub => stub.Register("keep", (JsonElement payload, string note) =>
        {
            release.Wait(TestTimeouts.Unexpected);
            try
            {
                readAfterRelease.SetResult($"{payload.GetRawText()} {note}");
            }
            catch (Exception ex)
            {
                // An element of a disposed document throws (ObjectDisposedException): the test reports it.
                readAfterRelease.SetException(ex);
            }
        }));
        await using RawRpcConnection client = await server.ConnectAsync();
        string payload = $$"""{"list": [1, 2, 3], "text": "{{new string('a', 3000)}}"}""";

        JsonElement timedOut = await client.CallAsync($$"""{"method_name": "keep", "method_args": [{{payload}}, "the note"]}""");

        timedOut.ErrorCode().ShouldBe("MethodTimeout");
        // The next requests land where the first one's bytes were read, and larger ones grow that buffer.
        foreach (int size in new[] { 3000, 5000, 20_000 })
        {
            string other = new('z', size);
            (await client.CallAsync(RawRpcConnection.RequestJson("echo", [other]))).Result().GetString().ShouldBe(other);
        }

        release.Set();

        (await readAfterRelease.Task.WaitAsync(TestTimeouts.Unexpected)).ShouldBe($"{payload} the note");
    }

    [Test]
    public async Task Thirty_blocked_methods_do_not_delay_an_unrelated_call_and_none_runs_on_the_thread_pool()
    {
        using var release = new ManualResetEventSlim();
        int onThreadPool = 0;
        var stub = new ServerStub(TimeSpan.FromSeconds(30));
        new DemoMethods().RegisterAll(stub);
        stub.Register("stuck", () =>
        {
            if (Thread.CurrentThread.IsThreadPoolThread)
                Interlocked.Increment(ref onThreadPool);
            release.Wait(TestTimeouts.Unexpected);
        });
        Task<CallResult>[] stuck = [.. Enumerable.Range(0, 30).Select(_ => CallAsync(stub, "stuck"))];
        await WaitUntilAsync(() => stub.RunningMethods.Count == 30);

        // Thirty threads are blocked (more than this machine has cores), none of them the pool's.
        CallResult add = await CallAsync(stub, "add", "[1, 2]").WaitAsync(TestTimeouts.Unexpected);

        add.Value.ShouldBe(13.0);
        Volatile.Read(ref onThreadPool).ShouldBe(0);
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
        Task<CallResult>[] first = [CallAsync(stub, "stuck"), CallAsync(stub, "stuck")];
        await WaitUntilAsync(() => Volatile.Read(ref runs) == 2);

        CallResult third = await CallAsync(stub, "stuck");

        third.ErrorCode.ShouldBe(RpcErrorCode.ServerBusy);
        third.ErrorMessage.ShouldBe("the server is busy: all 2 method slots (max_concurrent_calls) are taken; try again later");
        Volatile.Read(ref runs).ShouldBe(2);

        // Slots come back when the methods really end: the next call runs.
        release.Set();
        await Task.WhenAll(first).WaitAsync(TestTimeouts.Unexpected);
        await WaitUntilAsync(() => stub.RunningMethods.Count == 0);
        (await CallAsync(stub, "stuck").WaitAsync(TestTimeouts.Unexpected)).IsSuccess.ShouldBeTrue();
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
