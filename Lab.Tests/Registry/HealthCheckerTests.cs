using System.Net.Http.Json;
using System.Text.Json;
using Lab.Registry;

namespace Lab.Tests.Registry;

/// <summary>
/// The periodic eviction, inside a real registry whose clock is fake: the test moves time forward and
/// waits for the health checker's log line, never for real seconds.
/// </summary>
[Parallelizable(ParallelScope.All)]
public class HealthCheckerTests
{
    private const string CheckDone = "DEBUG HealthChecker: Health check done";

    // Self-preservation on, holding instances silent together for at most 5 s past the 3 s timeout.
    private static readonly Lab.Protocol.Settings.RegistrySettings Preserving = RunningRegistry.TestSettings with { SelfPreservationLimit = TimeSpan.FromSeconds(5) };

    [Test]
    public async Task Instance_without_heartbeats_is_evicted_once_older_than_the_timeout()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        await registry.RegisterAsync(8080);

        // Interval 1 s, timeout 3 s: silent for 1, 2, 3 s it stays (not older than 3 s); at 4 s it goes.
        for (int tick = 1; tick <= 3; tick++)
        {
            await AdvanceOneIntervalAsync(registry, tick);
            registry.Service.Snapshot().Count.ShouldBe(1, $"after {tick} s");
        }

        await AdvanceOneIntervalAsync(registry, 4);

        await registry.Log.WaitForLineAsync(@"INFO  HealthChecker: Evicted json://127\.0\.0\.1:8080 \(no heartbeat for 4\.0 s; it never sent one after registering\)$");
        registry.Service.Snapshot().Count.ShouldBe(0);
        (await registry.FindAsync()).ShouldBeEmpty();
    }

    [Test]
    public async Task Instance_that_keeps_sending_heartbeats_is_never_evicted()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        await registry.RegisterAsync(8080);

        for (int tick = 1; tick <= 6; tick++)
        {
            await AdvanceOneIntervalAsync(registry, tick);
            await registry.RegisterAsync(8080);
        }

        registry.Log.Lines.ShouldNotContain(line => line.Contains("Evicted", StringComparison.Ordinal));
        (await registry.FindAsync()).Count.ShouldBe(1);
    }

    [Test]
    public async Task Evicted_instance_comes_back_with_its_next_heartbeat()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        await registry.RegisterAsync(8080);
        registry.Clock.Advance(TimeSpan.FromSeconds(4));
        await registry.Log.WaitForLineAsync("Evicted json://127.0.0.1:8080");

        await registry.RegisterAsync(8080);

        (await registry.FindAsync()).Count.ShouldBe(1);
        registry.Log.Lines.Count(line => line.Contains("Registered json://127.0.0.1:8080", StringComparison.Ordinal)).ShouldBe(2);
    }

    [Test]
    public async Task Self_preservation_is_off_by_default_so_two_of_two_silent_servers_are_evicted_after_the_timeout()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        int[] ports = [8080, 8081];
        for (int tick = 1; tick <= 2; tick++)
        {
            await RegisterAllAsync(registry, ports);
            await AdvanceOneIntervalAsync(registry, tick);
        }

        // Last heartbeats at 1 s; the check at 5 s sees 4 s of silence (timeout 3 s): both go, with no hold.
        for (int tick = 3; tick <= 5; tick++)
            await AdvanceOneIntervalAsync(registry, tick);

        registry.Log.Lines.Count(line => line.Contains("INFO  HealthChecker: Evicted json://", StringComparison.Ordinal)).ShouldBe(2);
        registry.Log.Lines.ShouldNotContain(line => line.Contains("Self-preservation", StringComparison.Ordinal));
        (await registry.FindAsync()).ShouldBeEmpty();
    }

    [Test]
    public async Task Servers_silent_together_are_held_with_a_warning_and_released_when_heartbeats_return()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync(Preserving);
        int[] ports = [8080, 8081, 8082];
        await RegisterAllAsync(registry, ports);
        await AdvanceOneIntervalAsync(registry, 1);
        await RegisterAllAsync(registry, ports);

        // 8081 and 8082 fall silent (2 of 3, more than 50%): a partition, not two deaths.
        for (int tick = 2; tick <= 6; tick++)
        {
            await AdvanceOneIntervalAsync(registry, tick);
            await registry.RegisterAsync(8080);
        }

        await registry.Log.WaitForLineAsync(@"WARN  HealthChecker: Self-preservation on: 2 of 3 heartbeating instances went silent together \(within 1\.0 s\); keeping them listed for at most 5\.0 s past heartbeat_timeout \(self_preservation_limit\)");
        registry.Service.Snapshot().Count.ShouldBe(3);
        (await registry.FindAsync()).Select(instance => instance.Port).ShouldBe(ports, "clients still get every instance, never an empty list");

        // One comes back: the hold ends. The one still silent could not reach the registry before the heal
        // either, so it is judged from the heal: it goes a heartbeat timeout and the 1 s window later.
        await registry.RegisterAsync(8081);
        await AdvanceOneIntervalAsync(registry, 7);
        await registry.Log.WaitForLineAsync(@"WARN  HealthChecker: Self-preservation off: 1 of 3 instances silent; evicting again$");
        for (int tick = 8; tick <= 11; tick++)
        {
            await RegisterAllAsync(registry, [8080, 8081]);
            await AdvanceOneIntervalAsync(registry, tick);
            registry.Service.Snapshot().Count.ShouldBe(3, $"{tick - 7} s after the heal");
        }

        await RegisterAllAsync(registry, [8080, 8081]);
        await AdvanceOneIntervalAsync(registry, 12);
        await registry.Log.WaitForLineAsync(@"INFO  HealthChecker: Evicted json://127\.0\.0\.1:8082 \(no heartbeat for 11\.0 s\)$");
        (await registry.FindAsync()).Select(instance => instance.Port).ShouldBe([8080, 8081]);
        registry.Log.Lines.Count(line => line.Contains("Self-preservation on", StringComparison.Ordinal)).ShouldBe(1, "logged once, not at every check");
    }

    [Test]
    public async Task Servers_held_by_self_preservation_are_evicted_anyway_after_the_limit_with_a_warning()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync(Preserving);
        int[] ports = [8080, 8081];
        await RegisterAllAsync(registry, ports);
        await AdvanceOneIntervalAsync(registry, 1);
        await RegisterAllAsync(registry, ports);

        // Both silent from 1 s on: held from the check at 6 s (5 s > timeout 3 s + window 1 s), released past
        // timeout + limit = 8 s of silence, so at the check at 10 s (9 s of silence) and not before.
        for (int tick = 2; tick <= 9; tick++)
            await AdvanceOneIntervalAsync(registry, tick);
        registry.Log.Lines.ShouldNotContain(line => line.Contains("Evicted", StringComparison.Ordinal));
        (await registry.FindAsync()).Count.ShouldBe(2, "held: still listed");
        JsonElement banner = (await registry.Http.GetFromJsonAsync<JsonElement>(new Uri("dashboard/state", UriKind.Relative))).GetProperty("selfPreservation");
        banner.GetProperty("since").ValueKind.ShouldBe(JsonValueKind.String, "the dashboard shows the hold");

        await AdvanceOneIntervalAsync(registry, 10);

        registry.Log.Lines.Count(line => line.Contains("WARN  HealthChecker: Evicted json://127.0.0.1:808", StringComparison.Ordinal)
                                         && line.EndsWith("(no heartbeat for 9.0 s: self-preservation holds an instance for at most 5.0 s past heartbeat_timeout)", StringComparison.Ordinal)).ShouldBe(2);
        (await registry.FindAsync()).ShouldBeEmpty();
    }

    [TestCase(2, 1)]   // the lab's "kill 1 of 2 servers": 50% silent is not more than 50%, and only one
    [TestCase(4, 2)]   // exactly half: not more than half
    [TestCase(3, 1)]   // a single silent instance never counts as a partition
    public async Task With_self_preservation_on_half_or_fewer_silent_or_a_single_one_is_evicted_as_usual(int instances, int silent)
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync(Preserving);
        int[] all = [.. Enumerable.Range(8080, instances)];
        await RegisterAllAsync(registry, all);
        for (int tick = 1; tick <= 6; tick++)
        {
            await AdvanceOneIntervalAsync(registry, tick);
            await RegisterAllAsync(registry, tick == 1 ? all : all[silent..]);
        }

        registry.Service.Snapshot().Count.ShouldBe(instances - silent);
        registry.Log.Lines.Count(line => line.Contains("Evicted", StringComparison.Ordinal)).ShouldBe(silent);
        registry.Log.Lines.ShouldNotContain(line => line.Contains("Self-preservation", StringComparison.Ordinal));
    }

    private static async Task RegisterAllAsync(RunningRegistry registry, IEnumerable<int> ports)
    {
        foreach (int port in ports)
            await registry.RegisterAsync(port);
    }

    // Moves the fake clock one health-check interval and waits until that check has run, so the next
    // step sees its result (a PeriodicTimer merges ticks that are not yet consumed).
    private static async Task AdvanceOneIntervalAsync(RunningRegistry registry, int tick)
    {
        registry.Clock.Advance(RunningRegistry.TestSettings.HealthCheckInterval);
        await registry.Log.WaitForLineAsync(CheckDone, occurrences: tick);
    }
}
