using System.Diagnostics;
using Lab.Client;
using Lab.Protocol.Settings;
using Lab.Tests.Client.Support;
using Microsoft.Extensions.Logging;
using Lab.Tests.Server.Support;

namespace Lab.Tests.Client;

// RpcClient in registry mode: load spread, failover, "no server available", disposal.
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public class RpcClientRegistryModeTests
{
    private readonly LogRecorder _logs = new();

    [Test]
    public async Task Calls_spread_over_the_registered_servers_in_round_robin_order()
    {
        await using RunningTcpServer a = RunningTcpServer.Start("a");
        await using RunningTcpServer b = RunningTcpServer.Start("b");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetServers(a, b);
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.RoundRobin);

        var answeredBy = new List<string>();
        for (int i = 0; i < 6; i++)
        {
            answeredBy.Add((await client.CallDetailedAsync<string>("whoami")).Value!);
        }

        answeredBy.ShouldBe(["a", "b", "a", "b", "a", "b"]);
    }

    [Test]
    public async Task A_server_stopped_between_calls_costs_no_failed_call()
    {
        await using RunningTcpServer a = RunningTcpServer.Start("a");
        await using RunningTcpServer b = RunningTcpServer.Start("b");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetServers(a, b);
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.RoundRobin);
        (await client.CallAsync<string>("whoami")).ShouldBe("a");

        // The registry still lists "a": only the client's own failover can save the next calls.
        await a.StopAsync();
        var answeredBy = new List<string?>();
        for (int i = 0; i < 10; i++)
        {
            answeredBy.Add(await client.CallAsync<string>("whoami"));
        }

        answeredBy.ShouldAllBe(name => name == "b");
        _logs.Count(LogLevel.Warning, $"Server {a.Address} failed").ShouldBeGreaterThanOrEqualTo(1);
    }

    [Test]
    public async Task A_server_stopped_mid_run_under_concurrent_load_costs_no_failed_call()
    {
        await using RunningTcpServer a = RunningTcpServer.Start("a");
        await using RunningTcpServer b = RunningTcpServer.Start("b");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetServers(a, b);
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.RoundRobin);
        int succeeded = 0;
        int succeededAfterStop = 0;
        var failures = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        Task stopA = a.WaitUntilAsync(s => s.CallsAnswered >= 50, "50 calls on a").ContinueWith(_ => a.StopAsync()).Unwrap();

        // Four workers, as in "--duration 10 --concurrency 4", calling until 200 calls have succeeded
        // after "a" stopped. add is pure, so they opt in to re-sending a call whose server died
        // mid-call — exactly what the program's duration mode does.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            for (int i = 0; Volatile.Read(ref succeededAfterStop) < 200 && failures.IsEmpty; i++)
            {
                bool stopped = stopA.IsCompleted;
                try
                {
                    RpcCallResult<long> result = await client.CallDetailedAsync<long>("add", [worker, i], options: RpcCallOptions.IdempotentCall);
                    result.Value.ShouldBe(worker + i + 10);
                    Interlocked.Increment(ref succeeded);
                    if (stopped)
                    {
                        Interlocked.Increment(ref succeededAfterStop);
                        result.Server.ShouldBe(b.Address);
                    }
                }
                catch (Exception ex)
                {
                    failures.Add(ex);
                }
            }
        })));
        await stopA;

        failures.ShouldBeEmpty();
        a.CallsAnswered.ShouldBeGreaterThanOrEqualTo(50);
        succeeded.ShouldBeGreaterThanOrEqualTo(250);
        _logs.Count(LogLevel.Warning, $"Server {a.Address} failed").ShouldBe(1);
    }

    [Test]
    public async Task A_request_already_sent_is_not_sent_again_by_default()
    {
        await using var dies = new MisbehavingServer(Misbehaviour.CloseAfterRequest);
        await using RunningTcpServer healthy = RunningTcpServer.Start("healthy");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances((dies.Host, dies.Port, null), (healthy.Host, healthy.Port, null));
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.RoundRobin);

        var failure = await Should.ThrowAsync<RpcReadException>(() => client.CallAsync<long>("add", [1, 2]));

        failure.Server.ShouldBe(dies.Address);
        dies.RequestsReceived.ShouldBe(1);
        healthy.CallsAnswered.ShouldBe(0);
    }

    [Test]
    public async Task An_idempotent_call_whose_server_died_mid_call_is_sent_to_another_instance()
    {
        await using var dies = new MisbehavingServer(Misbehaviour.CloseAfterRequest);
        await using RunningTcpServer healthy = RunningTcpServer.Start("healthy");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances((dies.Host, dies.Port, null), (healthy.Host, healthy.Port, null));
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.RoundRobin);

        RpcCallResult<long> result = await client.CallDetailedAsync<long>("add", [1, 2], options: RpcCallOptions.IdempotentCall);

        result.Value.ShouldBe(13);
        result.Server.ShouldBe(healthy.Address);
        dies.RequestsReceived.ShouldBe(1);
        client.Instances.Select(instance => instance.Address).ShouldNotContain(dies.Address);
    }

    [Test]
    public async Task A_call_timeout_is_not_failover_even_for_an_idempotent_call()
    {
        await using var hung = new MisbehavingServer(Misbehaviour.NeverAnswers);
        await using RunningTcpServer healthy = RunningTcpServer.Start("healthy");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances((hung.Host, hung.Port, null), (healthy.Host, healthy.Port, null));
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.RoundRobin, ClientTestSettings.Fast with { CallTimeout = TestTimeouts.Short });

        await Should.ThrowAsync<RpcCallTimeoutException>(
            () => client.CallDetailedAsync<long>("add", [1, 2], options: RpcCallOptions.IdempotentCall));

        healthy.CallsAnswered.ShouldBe(0);
    }

    [Test]
    public async Task No_registered_server_gives_NoServerAvailableException_with_a_clear_message()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.Random);

        var failure = await Should.ThrowAsync<NoServerAvailableException>(() => client.CallAsync<long>("add", [1, 2]));

        failure.Message.ShouldBe($"no server available: the registry at http://127.0.0.1:{registry.Port} lists no json instance");
    }

    [Test]
    public async Task Every_instance_refusing_gives_NoServerAvailableException_and_empties_the_cache()
    {
        RunningTcpServer a = RunningTcpServer.Start("a");
        RunningTcpServer b = RunningTcpServer.Start("b");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetServers(a, b);
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.Random, ClientTestSettings.Fast with { PollInterval = TimeSpan.FromHours(1) });
        await a.StopAsync();
        await b.StopAsync();

        var failure = await Should.ThrowAsync<NoServerAvailableException>(() => client.CallAsync<long>("add", [1, 2]));

        failure.Message.ShouldStartWith("no server available: all 2 instances failed");
        failure.InnerException.ShouldBeOfType<RpcConnectException>();
        client.Instances.ShouldBeEmpty();
    }

    [Test]
    public async Task A_server_whose_reply_is_not_UTF8_is_failed_over_like_any_broken_server()
    {
        // It used to end the client program at the first such reply, with a good server listed next to it.
        await using var bad = new MisbehavingServer(Misbehaviour.InvalidUtf8Reply);
        await using RunningTcpServer good = RunningTcpServer.Start("good");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances((bad.Host, bad.Port, null), (good.Host, good.Port, null));
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.RoundRobin);

        for (int i = 0; i < 4; i++)
        {
            (await client.CallDetailedAsync<string>("whoami", options: RpcCallOptions.IdempotentCall)).Value.ShouldBe("good");
        }

        bad.RequestsReceived.ShouldBe(1, "tried once, then dropped from the cache");
        _logs.Count(LogLevel.Warning, $"Server {bad.Address} failed (reading the reply from {bad.Address} failed: the reply is not valid UTF-8 text)").ShouldBe(1);
    }

    [Test]
    public async Task A_call_tries_at_most_max_attempts_servers_then_says_so()
    {
        // The registry lists five servers that refuse connections: a call does not go through them all.
        int[] closed = [.. Enumerable.Range(0, 5).Select(_ => FakeRegistry.FreePort())];
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances([.. closed.Select(port => ("127.0.0.1", port, (double?)null))]);
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.RoundRobin, ClientTestSettings.Fast with { MaxAttempts = 3 });

        var failure = await Should.ThrowAsync<NoServerAvailableException>(() => client.CallAsync<long>("add", [1, 2]));

        failure.Message.ShouldStartWith("no server available: 3 instances failed, the most one call tries (max_attempts); the last one said: connecting to 127.0.0.1:");
        failure.InnerException.ShouldBeOfType<RpcConnectException>();
        _logs.Count(LogLevel.Warning, "dropped it from the cache").ShouldBe(3);
    }

    [Test]
    public async Task A_call_ends_by_call_deadline_however_many_listed_servers_never_accept()
    {
        // 30 listed servers whose connects time out: add 1 2 used to run on for every one of them (60 s and more).
        List<FullBacklogListener> silent = [];
        try
        {
            for (int i = 0; i < 4; i++)
            {
                silent.Add(await FullBacklogListener.StartAsync());
            }

            await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
            registry.SetInstances([.. silent.Select(listener => (listener.Host, listener.Port, (double?)null))]);
            // Each connect gives up after 0.3 s, and the call may try 100 servers: only the deadline can end it early.
            ClientSettings settings = ClientTestSettings.Fast with { ConnectTimeout = TestTimeouts.Short, MaxAttempts = 100, CallDeadline = TimeSpan.FromSeconds(0.45) };
            await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.RoundRobin, settings);
            var stopwatch = Stopwatch.StartNew();

            var failure = await Should.ThrowAsync<RpcCallDeadlineException>(() => client.CallAsync<long>("add", [1, 2]));

            stopwatch.Elapsed.ShouldBeLessThan(TestTimeouts.Prompt);
            failure.Message.ShouldStartWith("the call did not finish within call_deadline (0.45 s); servers tried: ");
        }
        finally
        {
            foreach (FullBacklogListener listener in silent)
            {
                await listener.DisposeAsync();
            }
        }
    }

    [Test]
    public async Task Calls_keep_working_from_the_cache_while_the_registry_is_down()
    {
        await using RunningTcpServer a = RunningTcpServer.Start("a");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetServers(a);
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.Random);

        await registry.StopAsync();
        await _logs.WaitForAsync(LogLevel.Warning, "Registry unreachable");

        (await client.CallAsync<long>("add", [1, 2])).ShouldBe(13);
    }

    [Test]
    public async Task Servers_registered_after_the_client_started_are_found_on_the_first_call()
    {
        await using RunningTcpServer a = RunningTcpServer.Start("a");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        await using RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.Random, ClientTestSettings.Fast with { PollInterval = TimeSpan.FromHours(1) });

        registry.SetServers(a);

        (await client.CallAsync<string>("whoami")).ShouldBe("a");
    }

    [Test]
    public async Task Dispose_stops_polling_and_closes_every_connection()
    {
        await using RunningTcpServer a = RunningTcpServer.Start("a");
        await using RunningTcpServer b = RunningTcpServer.Start("b");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetServers(a, b);
        RpcClient client = await ConnectAsync(registry, LoadBalanceStrategy.RoundRobin);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => client.CallAsync<long>("add", [i, i])));
        await registry.WaitUntilAsync(r => r.Requests >= 3, "a few polls");

        await client.DisposeAsync();
        int requestsAtDispose = registry.Requests;

        await a.WaitUntilAsync(s => s.OpenConnections == 0, "a's connections to close");
        await b.WaitUntilAsync(s => s.OpenConnections == 0, "b's connections to close");
        // DisposeAsync awaited the poll loop, which logged its end: no poll can follow. (That the loop
        // stays silent over time is proved on a fake clock in RegistryClientTests.)
        _logs.Count(LogLevel.Debug, "Registry polling stopped").ShouldBe(1);
        registry.Requests.ShouldBe(requestsAtDispose);
    }

    private Task<RpcClient> ConnectAsync(FakeRegistry registry, LoadBalanceStrategy strategy, ClientSettings? settings = null) =>
        RpcClient.ConnectToRegistryAsync(
            registry.Settings,
            settings ?? ClientTestSettings.Fast,
            _logs.CreateFactory(),
            new LoadBalance(strategy, seed: 1));
}
