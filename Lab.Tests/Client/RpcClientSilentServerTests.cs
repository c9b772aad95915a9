using System.Collections.Concurrent;
using System.Diagnostics;
using Lab.Client;
using Lab.Protocol.Settings;
using Lab.Tests.Client.Support;
using Microsoft.Extensions.Logging;
using Lab.Tests.Server.Support;

namespace Lab.Tests.Client;

// RpcClient in registry mode with one server that accepts and reads but never answers (a frozen
// process looks exactly like this from outside): no stall, no failed idempotent call, and calls
// caught there end when the server is found silent, not after call_timeout.
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public class RpcClientSilentServerTests
{
    // Short enough for a quick test, long enough that a healthy server on a busy machine is not
    // mistaken for a silent one; call_timeout (20 s) is far beyond both.
    private static readonly ClientSettings Settings = ClientTestSettings.Fast with
    {
        SilentAfter = TimeSpan.FromSeconds(0.5),
        ProbeTimeout = TimeSpan.FromSeconds(1),
    };

    private readonly LogRecorder _logs = new();

    [TestCase(LoadBalanceStrategy.RoundRobin)]
    [TestCase(LoadBalanceStrategy.Random)]
    public async Task Four_workers_keep_completing_calls_and_none_fails_while_one_server_is_silent(LoadBalanceStrategy strategy)
    {
        await using var silent = new MisbehavingServer(Misbehaviour.NeverAnswers);
        await using RunningTcpServer healthy = RunningTcpServer.Start("healthy");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances((silent.Host, silent.Port, null), (healthy.Host, healthy.Port, null));
        await using RpcClient client = await ConnectAsync(registry, strategy);
        var failures = new ConcurrentQueue<Exception>();
        var slowest = new ConcurrentQueue<TimeSpan>();
        Task banned = _logs.WaitForAsync(LogLevel.Warning, $"Server {silent.Address} stopped answering");

        // Workers call until the silent server has been banned and 200 more calls succeeded; a
        // bound on the count and on time keeps a bug from looping forever.
        int afterBan = 0;
        using var limit = new CancellationTokenSource(TestTimeouts.Unexpected);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            for (int i = 0; i < 100_000 && Volatile.Read(ref afterBan) < 200 && !limit.IsCancellationRequested; i++)
            {
                var started = Stopwatch.StartNew();
                try
                {
                    RpcCallResult<long> result = await client.CallDetailedAsync<long>("add", [worker, i], options: RpcCallOptions.IdempotentCall);
                    result.Value.ShouldBe(worker + i + 10);
                    result.Server.ShouldBe(healthy.Address);
                    slowest.Enqueue(started.Elapsed);
                    if (banned.IsCompleted)
                    {
                        Interlocked.Increment(ref afterBan);
                    }
                }
                catch (Exception ex)
                {
                    failures.Enqueue(ex);
                    return;
                }
            }
        })));

        failures.ShouldBeEmpty();
        banned.IsCompleted.ShouldBeTrue("the silent server was never banned");
        silent.RequestsReceived.ShouldBeGreaterThan(0, "no call was ever sent to the silent server: the test proved nothing");
        // A call caught on the silent server ends at its ban (silent_after + a tick + probe_timeout =
        // 1.6 s), not at call_timeout (20 s), and is then answered by the healthy server.
        slowest.Max().ShouldBeLessThan(Settings.CallTimeout / 2);
        _logs.Count(LogLevel.Warning, $"Server {silent.Address} stopped answering (").ShouldBe(1);
        client.Instances.Select(instance => instance.Address).ShouldBe([healthy.Address]);
    }

    [Test]
    public async Task A_call_that_is_not_idempotent_fails_at_the_ban_and_is_not_sent_again()
    {
        await using var silent = new MisbehavingServer(Misbehaviour.NeverAnswers);
        await using RunningTcpServer healthy = RunningTcpServer.Start("healthy");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances((silent.Host, silent.Port, null), (healthy.Host, healthy.Port, null));
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.RoundRobin);
        var started = Stopwatch.StartNew();

        var failure = await Should.ThrowAsync<RpcReadException>(() => client.CallAsync<long>("add", [1, 2]));

        started.Elapsed.ShouldBeLessThan(Settings.CallTimeout / 2);
        failure.Server.ShouldBe(silent.Address);
        failure.Message.ShouldContain($"{silent.Address} stopped answering and was banned (1 calls outstanding, none answered for");
        failure.Message.ShouldContain("probe: no answer within probe_timeout 1 s");
        silent.RequestsReceived.ShouldBe(2, "the call and the probe");
        healthy.CallsAnswered.ShouldBe(0);
    }

    [Test]
    public async Task A_slow_method_on_a_live_server_is_not_cut_off()
    {
        await using RunningTcpServer slow = RunningTcpServer.Start("slow");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetServers(slow);
        // The probe must be answered for the server to be kept: give it the time a loaded machine may take
        // (a live server answers in milliseconds; the tests of a silent one keep the short probe_timeout).
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.RoundRobin, Settings with { ProbeTimeout = TestTimeouts.Prompt });

        // hold answers only when released: well past silent_after, the probe finds the server alive.
        Task<string?> held = client.CallAsync<string>("hold");
        await _logs.WaitForAsync(LogLevel.Information, $"Server {slow.Address} is slow but answered a probe");
        slow.ReleaseHeldCalls();

        (await held).ShouldNotBeNull();
        _logs.Count(LogLevel.Warning, "stopped answering").ShouldBe(0);
        client.Instances.Count.ShouldBe(1);
    }

    [Test]
    public async Task In_direct_mode_a_silent_server_is_not_banned()
    {
        await using var silent = new MisbehavingServer(Misbehaviour.NeverAnswers);
        await using RpcClient client = RpcClient.Direct(silent.Host, silent.Port, Settings with { CallTimeout = TimeSpan.FromSeconds(3) }, _logs.CreateFactory());

        // With nowhere else to go, a ban would only turn a pause into failures: the call timeout decides.
        await Should.ThrowAsync<RpcCallTimeoutException>(() => client.CallAsync<long>("add", [1, 2]));

        silent.RequestsReceived.ShouldBe(1, "only the call: no probe");
        _logs.Count(LogLevel.Debug, "Probing").ShouldBe(0);
    }

    private Task<RpcClient> ConnectAsync(FakeRegistry registry, LoadBalanceStrategy strategy, ClientSettings? settings = null) =>
        RpcClient.ConnectToRegistryAsync(registry.Settings, settings ?? Settings, _logs.CreateFactory(), new LoadBalance(strategy, seed: 1));
}
