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
            registry.Service.Count.ShouldBe(1, $"after {tick} s");
        }

        await AdvanceOneIntervalAsync(registry, 4);

        await registry.Log.WaitForLineAsync(@"INFO  HealthChecker: Evicted json://127\.0\.0\.1:8080 \(no heartbeat for 4\.0 s\)$");
        registry.Service.Count.ShouldBe(0);
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

    // Moves the fake clock one health-check interval and waits until that check has run, so the next
    // step sees its result (a PeriodicTimer merges ticks that are not yet consumed).
    private static async Task AdvanceOneIntervalAsync(RunningRegistry registry, int tick)
    {
        registry.Clock.Advance(RunningRegistry.TestSettings.HealthCheckInterval);
        await registry.Log.WaitForLineAsync(CheckDone, occurrences: tick);
    }
}
