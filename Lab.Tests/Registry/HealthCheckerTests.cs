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

        await registry.Log.WaitForLineAsync(@"INFO  HealthChecker: Evicted json://127\.0\.0\.1:8080 \(no heartbeat for 4\.0 s\)$");
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
    public async Task Most_instances_going_silent_at_once_stops_evictions_until_heartbeats_return()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        int[] ports = [8080, 8081, 8082];
        foreach (int port in ports)
        {
            await registry.RegisterAsync(port);
        }

        // 8081 and 8082 fall silent (2 of 3, more than 50%): a partition, not two deaths.
        for (int tick = 1; tick <= 6; tick++)
        {
            await registry.RegisterAsync(8080);
            await AdvanceOneIntervalAsync(registry, tick);
        }

        await registry.Log.WaitForLineAsync(@"WARN  HealthChecker: Self-preservation on: 2 of 3 instances missed their heartbeats at once; evicting nobody until heartbeats return$");
        registry.Service.Snapshot().Count.ShouldBe(3);
        (await registry.FindAsync()).Select(instance => instance.Port).ShouldBe(ports, "clients still get every instance, never an empty list");

        // One comes back: 1 of 3 silent is an ordinary death again, and the one still silent goes.
        await registry.RegisterAsync(8081);
        await registry.RegisterAsync(8080);
        await AdvanceOneIntervalAsync(registry, 7);

        await registry.Log.WaitForLineAsync(@"WARN  HealthChecker: Self-preservation off: 1 of 3 instances silent; evicting again$");
        await registry.Log.WaitForLineAsync(@"Evicted json://127\.0\.0\.1:8082 \(no heartbeat for 7\.0 s\)$");
        (await registry.FindAsync()).Select(instance => instance.Port).ShouldBe([8080, 8081]);
        registry.Log.Lines.Count(line => line.Contains("Self-preservation on", StringComparison.Ordinal)).ShouldBe(1, "logged once, not at every check");
    }

    [TestCase(2, 1)]   // the lab's "kill 1 of 2 servers": 50% silent is not more than 50%, and only one
    [TestCase(4, 2)]   // exactly half: not more than half
    [TestCase(3, 1)]   // a single silent instance never counts as a partition
    public async Task Half_or_fewer_silent_or_a_single_one_is_evicted_as_usual(int instances, int silent)
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        for (int port = 8080; port < 8080 + instances; port++)
        {
            await registry.RegisterAsync(port);
        }

        for (int tick = 1; tick <= 4; tick++)
        {
            for (int port = 8080 + silent; port < 8080 + instances; port++)
            {
                await registry.RegisterAsync(port);
            }

            await AdvanceOneIntervalAsync(registry, tick);
        }

        registry.Service.Snapshot().Count.ShouldBe(instances - silent);
        registry.Log.Lines.Count(line => line.Contains("Evicted", StringComparison.Ordinal)).ShouldBe(silent);
        registry.Log.Lines.ShouldNotContain(line => line.Contains("Self-preservation", StringComparison.Ordinal));
    }

    [Test]
    public async Task Self_preservation_at_100_percent_is_off()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync(RunningRegistry.TestSettings with { SelfPreservationPercent = 100 });
        await registry.RegisterAsync(8080);
        await registry.RegisterAsync(8081);

        for (int tick = 1; tick <= 4; tick++)
        {
            await AdvanceOneIntervalAsync(registry, tick);
        }

        registry.Service.Snapshot().Count.ShouldBe(0);
        registry.Log.Lines.ShouldNotContain(line => line.Contains("Self-preservation", StringComparison.Ordinal));
    }

    // Moves the fake clock one health-check interval and waits until that check has run, so the next
    // step sees its result (a PeriodicTimer merges ticks that are not yet consumed).
    private static async Task AdvanceOneIntervalAsync(RunningRegistry registry, int tick)
    {
        registry.Clock.Advance(RunningRegistry.TestSettings.HealthCheckInterval);
        await registry.Log.WaitForLineAsync(CheckDone, occurrences: tick);
    }
}
