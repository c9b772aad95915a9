using System.Diagnostics;
using System.Text;
using Lab.Client;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Lab.Tests.Client.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Lab.Tests.Client;

// Each test gets its own instance, hence its own log capture.
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
public class RegistryClientTests
{
    private readonly LogRecorder _logs = new();

    [Test]
    public async Task Start_returns_after_the_first_discovery_so_the_cache_is_already_filled()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances(("127.0.0.1", 8001, null), ("::1", 8002, null));
        await using RegistryClient client = CreateClient(registry.Settings);

        await client.StartAsync();

        client.Instances.Select(instance => instance.Address).ShouldBe(["127.0.0.1:8001", "[::1]:8002"]);
        client.RegistryDown.ShouldBeFalse();
        _logs.Count(LogLevel.Information, $"Discovered 2 json instances at http://127.0.0.1:{registry.Port}: 127.0.0.1:8001, [::1]:8002").ShouldBe(1);
    }

    [Test]
    public async Task Polling_adds_new_instances_and_removes_departed_ones()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances(("127.0.0.1", 8001, null), ("127.0.0.1", 8002, null));
        await using RegistryClient client = CreateClient(registry.Settings);
        await client.StartAsync();

        registry.SetInstances(("127.0.0.1", 8002, null), ("127.0.0.1", 8003, null));
        await WaitForPollAfterChangeAsync(registry);

        client.Instances.Select(instance => instance.Port).ShouldBe([8002, 8003]);
        _logs.Count(LogLevel.Information, "added: 127.0.0.1:8003; removed: 127.0.0.1:8001").ShouldBe(1);
    }

    [Test]
    public async Task A_removed_instance_stays_out_while_the_registry_lists_it_for_up_to_unreachable_ban()
    {
        // The ban is the client's unreachable_ban (10 s in the test settings), not the registry's
        // heartbeat timeout (30 s here).
        ClientTestSettings.Fast.UnreachableBan.ShouldBe(TimeSpan.FromSeconds(10));
        await using TwoServerCache cache = await StartTwoServerCacheAsync(heartbeatTimeout: TimeSpan.FromSeconds(30));
        (FakeRegistry registry, FakeTimeProvider time, RegistryClient client) = cache;

        bool removed = client.Remove(new InstanceMeta { Host = "127.0.0.1", Port = 8001 });
        bool removedAgain = client.Remove(new InstanceMeta { Host = "127.0.0.1", Port = 8001 });
        IReadOnlyList<InstanceMeta> afterRemove = client.Instances;
        time.Advance(TimeSpan.FromSeconds(9));
        await client.RefreshAsync();
        IReadOnlyList<InstanceMeta> beforeTimeout = client.Instances;
        time.Advance(TimeSpan.FromSeconds(2));
        await client.RefreshAsync();

        removed.ShouldBeTrue();
        removedAgain.ShouldBeFalse();
        afterRemove.Select(instance => instance.Port).ShouldBe([8002]);
        // The registry has not evicted it yet: a dead server must not come back with every poll.
        beforeTimeout.Select(instance => instance.Port).ShouldBe([8002]);
        // Still listed after the ban: it is heartbeating, so it is alive.
        client.Instances.Select(instance => instance.Port).ShouldBe([8001, 8002]);
    }

    [Test]
    public async Task An_empty_answer_after_a_registry_restart_keeps_the_cache_until_the_heartbeat_timeout()
    {
        await using TwoServerCache cache = await StartTwoServerCacheAsync(heartbeatTimeout: TimeSpan.FromSeconds(10));
        (FakeRegistry registry, FakeTimeProvider time, RegistryClient client) = cache;

        // A restarted registry knows nobody until the servers' next heartbeats.
        registry.SetInstances();
        await client.RefreshAsync();
        IReadOnlyList<InstanceMeta> rightAfterRestart = client.Instances;
        time.Advance(TimeSpan.FromSeconds(9));
        await client.RefreshAsync();
        IReadOnlyList<InstanceMeta> beforeTimeout = client.Instances;
        time.Advance(TimeSpan.FromSeconds(2));
        await client.RefreshAsync();

        rightAfterRestart.Select(instance => instance.Port).ShouldBe([8001, 8002]);
        beforeTimeout.Select(instance => instance.Port).ShouldBe([8001, 8002]);
        // Still empty after the registry's heartbeat timeout: the servers really are gone.
        client.Instances.ShouldBeEmpty();
        _logs.Count(LogLevel.Warning, "lists no json instance; keeping 2 cached instances for up to 10 s").ShouldBe(1);
    }

    [Test]
    public async Task A_server_re_registering_after_a_registry_restart_ends_the_empty_answer_grace()
    {
        await using TwoServerCache cache = await StartTwoServerCacheAsync(heartbeatTimeout: TimeSpan.FromSeconds(10));
        (FakeRegistry registry, FakeTimeProvider time, RegistryClient client) = cache;

        registry.SetInstances();
        await client.RefreshAsync();
        registry.SetInstances(("127.0.0.1", 8002, null));
        await client.RefreshAsync();
        IReadOnlyList<InstanceMeta> afterOneReRegistered = client.Instances;
        registry.SetInstances();
        await client.RefreshAsync();

        afterOneReRegistered.Select(instance => instance.Port).ShouldBe([8002]);
        // A new empty streak starts a new grace period rather than continuing the old one.
        client.Instances.Select(instance => instance.Port).ShouldBe([8002]);
    }

    [Test]
    public async Task A_removed_instance_that_registers_again_after_eviction_is_taken_back_at_once()
    {
        await using TwoServerCache cache = await StartTwoServerCacheAsync();
        (FakeRegistry registry, FakeTimeProvider time, RegistryClient client) = cache;
        client.Remove(new InstanceMeta { Host = "127.0.0.1", Port = 8001 });

        registry.SetInstances(("127.0.0.1", 8002, null));
        await client.RefreshAsync();
        registry.SetInstances(("127.0.0.1", 8001, null), ("127.0.0.1", 8002, null));
        await client.RefreshAsync();

        client.Instances.Select(instance => instance.Port).ShouldBe([8001, 8002]);
    }

    [Test]
    public async Task Registry_down_keeps_the_cache_logs_once_and_recovers_by_itself()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances(("127.0.0.1", 8001, null), ("127.0.0.1", 8002, null));
        await using RegistryClient client = CreateClient(registry.Settings);
        await client.StartAsync();

        await registry.StopAsync();
        // One warning for the outage, then a debug line for each further failed poll.
        await _logs.WaitForAsync(LogLevel.Debug, "Registry poll failed", count: 3);

        _logs.Count(LogLevel.Warning, "Registry unreachable").ShouldBe(1);
        client.RegistryDown.ShouldBeTrue();
        client.Instances.Count.ShouldBe(2);

        registry.SetInstances(("127.0.0.1", 8003, null));
        await registry.RestartAsync();
        await _logs.WaitForAsync(LogLevel.Information, "Registry reachable again");

        client.RegistryDown.ShouldBeFalse();
        client.Instances.Select(instance => instance.Port).ShouldBe([8003]);
        _logs.Count(LogLevel.Warning, "Registry unreachable").ShouldBe(1);
    }

    [Test]
    public async Task A_registry_down_at_start_is_not_fatal_and_is_picked_up_when_it_comes()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances(("127.0.0.1", 8001, null));
        await registry.StopAsync();
        await using RegistryClient client = CreateClient(registry.Settings);

        await client.StartAsync();
        client.Instances.ShouldBeEmpty();
        _logs.Count(LogLevel.Warning, $"Registry unreachable at http://127.0.0.1:{registry.Port}").ShouldBe(1);

        await registry.RestartAsync();
        await _logs.WaitForAsync(LogLevel.Information, "Registry reachable again");
        client.Instances.Select(instance => instance.Port).ShouldBe([8001]);
    }

    [Test]
    public async Task A_hung_registry_is_abandoned_after_the_registry_timeout()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances(("127.0.0.1", 8001, null));
        registry.Hang();
        await using RegistryClient client = CreateClient(
            registry.Settings, ClientTestSettings.Fast with { PollInterval = TimeSpan.FromHours(1), RegistryTimeout = TestTimeouts.Short });
        var stopwatch = Stopwatch.StartNew();

        await client.StartAsync();

        stopwatch.Elapsed.ShouldBeLessThan(TestTimeouts.Prompt);
        client.Instances.ShouldBeEmpty();
        client.RegistryDown.ShouldBeTrue();
        _logs.Count(LogLevel.Warning, "no answer within the registry timeout").ShouldBe(1);

        registry.AnswerAgain();
        // Each attempt has the 0.3 s registry timeout, which one attempt on a fresh connection can miss
        // on a loaded machine: wait for the recovery (bounded by the token) instead of betting on one try.
        CancellationToken recovered = TestTimeouts.UnexpectedToken();
        while (!await client.RefreshAsync(recovered))
        {
        }

        client.Instances.Count.ShouldBe(1);
    }

    [Test]
    public async Task Only_healthy_json_instances_with_a_dialable_host_are_cached()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances(("127.0.0.1", 8001, 2.5), ("0.0.0.0", 8002, null));
        await using RegistryClient client = CreateClient(registry.Settings);

        await client.StartAsync();

        InstanceMeta only = client.Instances.ShouldHaveSingleItem();
        only.Port.ShouldBe(8001);
        only.Weight.ShouldBe(2.5);
    }

    [Test]
    public async Task Dispose_stops_the_poll_loop_so_the_registry_hears_nothing_more()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        var clock = new FakeTimeProvider();
        RegistryClient client = CreateClient(registry.Settings, time: clock);
        await client.StartAsync();
        // The poll loop runs on the fake clock: each interval is one more request.
        for (int polls = 2; polls <= 3; polls++)
        {
            clock.Advance(ClientTestSettings.Fast.PollInterval);
            await registry.WaitUntilAsync(r => r.Requests >= polls, $"poll {polls}");
        }

        await client.DisposeAsync();
        int requestsAtDispose = registry.Requests;
        // Ten poll intervals pass on the clock the loop runs on, and the registry hears nothing.
        clock.Advance(ClientTestSettings.Fast.PollInterval * 10);

        _logs.Count(LogLevel.Debug, "Registry polling stopped").ShouldBe(1);
        registry.Requests.ShouldBe(requestsAtDispose);
        await Should.ThrowAsync<ObjectDisposedException>(() => client.StartAsync());
    }

    [Test]
    public async Task An_answer_over_max_registry_response_size_is_a_failed_poll_not_a_full_memory()
    {
        // A registry (or anything at its address) streaming an endless body took a client to 2.7 GB in 6.7 s.
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.AnswerRaw(FakeRegistry.EndlessAsync);
        await using RegistryClient client = CreateClient(registry.Settings, ClientTestSettings.Fast with { MaxRegistryResponseSize = 256 * 1024 });

        bool read = await client.RefreshAsync();

        read.ShouldBeFalse();
        client.RegistryDown.ShouldBeTrue();
        _logs.Count(LogLevel.Warning, "the registry's answer is larger than max_registry_response_size (262144 bytes); keeping 0 cached instances").ShouldBe(1);
    }

    [Test]
    public async Task A_registry_error_is_logged_shortened_and_with_its_control_characters_escaped()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        string error = "{\"error\": \"\u001b[2J" + new string('e', 100_000) + "\"}";
        registry.AnswerRaw(FakeRegistry.Bytes(500, Encoding.UTF8.GetBytes(error)));
        await using RegistryClient client = CreateClient(registry.Settings);

        (await client.RefreshAsync()).ShouldBeFalse();

        string line = _logs.Lines.Single(line => line.Contains("Registry unreachable", StringComparison.Ordinal));
        line.ShouldContain("the registry answered 500 Internal Server Error: {\"error\": \"\\u001b[2Jeee");
        line.ShouldContain($"... ({error.Length:N0} characters)");
        line.Length.ShouldBeLessThan(600);
        line.ShouldNotContain("\u001b");
    }

    [Test]
    public async Task Entries_that_cannot_be_read_are_skipped_one_at_a_time_and_reported_once()
    {
        // Each of these used to hide every server: the whole answer failed to read.
        byte[] answer = [.. """[{"protocol": "json", "host": "127.0.0.1", "port": 8001},"""u8,
            .. """{"protocol": "json", "host": "bad\ud800", "port": 8002},"""u8,
            .. """{"protocol": "json", "host": "127.0.0.1", "port": 8003, "parameters": {"n": """u8, (byte)'"', 0xFF, (byte)'"', .. "}},"u8,
            .. """{"protocol": "json", "host": "127.0.0.1", "port": 8004, "parameters": {"\ud800": 1}},"""u8,
            .. """{"protocol": "json", "host": "127.0.0.1", "port": 8005}]"""u8];
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.AnswerRaw(FakeRegistry.Bytes(200, answer));
        await using RegistryClient client = CreateClient(registry.Settings);

        await client.StartAsync();
        await WaitForPollAfterChangeAsync(registry);

        client.Instances.Select(instance => instance.Port).ShouldBe([8001, 8005]);
        client.RegistryDown.ShouldBeFalse();
        _logs.Count(LogLevel.Warning, "Ignoring 3 instance(s) the registry listed that cannot be read; the first: a string in the instance is not valid Unicode text").ShouldBe(1, "once, not at every poll");
    }

    private RegistryClient CreateClient(RegistrySettings registry, ClientSettings? settings = null, TimeProvider? time = null) =>
        new(registry, settings ?? ClientTestSettings.Fast, _logs.CreateFactory().CreateLogger<RegistryClient>(), time);

    // The fake-clock tests all start from the same place: a registry listing two servers
    // (127.0.0.1:8001 and :8002) and a started client whose drop and grace periods run on a fake clock.
    private async Task<TwoServerCache> StartTwoServerCacheAsync(TimeSpan? heartbeatTimeout = null)
    {
        FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetInstances(("127.0.0.1", 8001, null), ("127.0.0.1", 8002, null));
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        RegistrySettings settings = heartbeatTimeout is { } timeout ? registry.Settings with { HeartbeatTimeout = timeout } : registry.Settings;
        RegistryClient client = CreateClient(settings, time: time);
        var cache = new TwoServerCache(registry, time, client);
        try
        {
            await client.StartAsync();
            return cache;
        }
        catch
        {
            await cache.DisposeAsync();
            throw;
        }
    }

    private sealed record TwoServerCache(FakeRegistry Registry, FakeTimeProvider Time, RegistryClient Client) : IAsyncDisposable
    {
        // The client first: its poll loop must not outlive the registry it polls.
        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Registry.DisposeAsync();
        }
    }

    // The poll loop makes one request at a time, so once two more requests have arrived, the first
    // of them (sent after the change) has been answered and applied.
    private static async Task WaitForPollAfterChangeAsync(FakeRegistry registry)
    {
        int seen = registry.Requests;
        await registry.WaitUntilAsync(r => r.Requests >= seen + 2, "two more polls");
    }
}
