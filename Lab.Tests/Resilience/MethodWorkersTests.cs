using System.Text.Json;
using Lab.Protocol.Messages;
using Lab.Server;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Resilience;

/// <summary>
/// Methods that block their thread, the way a student's synchronous method does: the deadline still
/// holds, other calls are still served, and the bound on calls gives ServerBusy instead of a queue.
/// Blocking methods here wait on an event the test releases, so nothing depends on the clock.
/// </summary>
[Parallelizable(ParallelScope.All)]
public class MethodWorkersTests
{
    [Test]
    public async Task A_method_that_blocks_its_thread_gets_MethodTimeout_at_the_deadline_and_a_warning_when_it_ends()
    {
        using var release = new ManualResetEventSlim();
        using var log = new LogRecorder();
        using ILoggerFactory factory = log.CreateFactory();
        var stub = new ServerStub(TimeSpan.FromSeconds(0.2), factory.CreateLogger<ServerStub>());
        stub.Register("stuck", () => release.Wait(TestTimeouts.Unexpected));

        CallResult result = await CallAsync(stub, "stuck").WaitAsync(TestTimeouts.Unexpected);

        result.ErrorCode.ShouldBe(RpcErrorCode.MethodTimeout);
        result.ErrorMessage.ShouldBe("stuck() did not finish within the method timeout of 0.2 s");
        stub.RunningMethods.ShouldHaveSingleItem().ShouldStartWith("stuck() for ");
        log.Count(LogLevel.Warning, "stuck() ended").ShouldBe(0);

        release.Set();

        await log.WaitForAsync(LogLevel.Warning, "stuck() ended after");
        log.Lines.ShouldContain(line => line.Contains("past its method timeout of 0.2 s; its caller had a MethodTimeout reply", StringComparison.Ordinal));
    }

    [Test]
    public async Task Thirty_blocked_methods_do_not_delay_an_unrelated_call()
    {
        using var release = new ManualResetEventSlim();
        var stub = new ServerStub(TimeSpan.FromSeconds(30));
        new DemoMethods().RegisterAll(stub);
        stub.Register("stuck", () => release.Wait(TestTimeouts.Unexpected));
        Task<CallResult>[] stuck = [.. Enumerable.Range(0, 30).Select(_ => CallAsync(stub, "stuck"))];
        await WaitUntilAsync(() => stub.RunningMethods.Count == 30);

        // Thirty threads are blocked (more than this machine has cores). The pool was told to start a thread at
        // once for each running call, plus two per core for connections (by default it adds about two a second).
        ThreadPool.GetMinThreads(out int minimumThreads, out _);
        minimumThreads.ShouldBeGreaterThanOrEqualTo(30 + (2 * Environment.ProcessorCount));
        CallResult add = await CallAsync(stub, "add", "[1, 2]").WaitAsync(TestTimeouts.Unexpected);

        add.Value.ShouldBe(13.0);
        stuck.ShouldAllBe(call => !call.IsCompleted);
        release.Set();
        (await Task.WhenAll(stuck).WaitAsync(TestTimeouts.Unexpected)).ShouldAllBe(result => result.IsSuccess);
    }

    [Test]
    public async Task A_queued_call_never_waits_behind_a_blocked_method_while_a_thread_is_free()
    {
        // Two slots, so two threads: one blocked for the whole test, the other serving one call after
        // another. Each call is queued from a pool thread just as the free thread finishes the previous
        // one and goes idle; that hand-off must never be lost (the call left queued, the free thread asleep).
        using var release = new ManualResetEventSlim();
        var stub = new ServerStub(TimeSpan.FromSeconds(30), maxConcurrentCalls: 2);
        new DemoMethods().RegisterAll(stub);
        stub.Register("stuck", () => release.Wait(TestTimeouts.Unexpected));
        Task<CallResult> stuck = CallAsync(stub, "stuck");
        await WaitUntilAsync(() => stub.RunningMethods.Count == 1);

        for (int call = 0; call < 5000; call++)
        {
            // From the pool, not inline on the worker that just ran the previous call.
            CallResult add = await Task.Run(() => CallAsync(stub, "add", "[1, 2]")).WaitAsync(TestTimeouts.Unexpected);
            add.Value.ShouldBe(13.0);
        }

        release.Set();
        (await stuck.WaitAsync(TestTimeouts.Unexpected)).IsSuccess.ShouldBeTrue();
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
        var settings = Lab.Tests.Server.Support.TestSettings.Server() with { MaxConcurrentCalls = 1 };
        await using var server = new Lab.Tests.Server.Support.RunningTcpServer(settings, stub => stub.Register("stuck", () => release.Wait(TestTimeouts.Unexpected)));
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
        var stub = new ServerStub(TimeSpan.FromSeconds(0.1), maxConcurrentCalls: 1);
        stub.Register("stuck", () => release.Wait(TestTimeouts.Unexpected));

        (await CallAsync(stub, "stuck").WaitAsync(TestTimeouts.Unexpected)).ErrorCode.ShouldBe(RpcErrorCode.MethodTimeout);

        // The caller gave up, the thread did not: a second call must not pile onto it.
        (await CallAsync(stub, "stuck")).ErrorCode.ShouldBe(RpcErrorCode.ServerBusy);
        release.Set();
    }

    [Test]
    public async Task An_async_method_that_blocks_before_its_first_await_still_times_out()
    {
        using var release = new ManualResetEventSlim();
        var stub = new ServerStub(TimeSpan.FromSeconds(0.2));
        stub.Register("late_await", async () =>
        {
            release.Wait(TestTimeouts.Unexpected);
            await Task.Yield();
            return 1;
        });

        CallResult result = await CallAsync(stub, "late_await").WaitAsync(TestTimeouts.Unexpected);

        result.ErrorCode.ShouldBe(RpcErrorCode.MethodTimeout);
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
