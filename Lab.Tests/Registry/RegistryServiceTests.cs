using Lab.Protocol.Discovery;
using Lab.Registry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Lab.Tests.Registry;

/// <summary>The instance store on its own, with a fake clock: no HTTP, no waiting.</summary>
[Parallelizable(ParallelScope.All)]
public class RegistryServiceTests
{
    private static readonly TimeSpan Timeout = RunningRegistry.TestSettings.HeartbeatTimeout;

    // Self-preservation on, holding silent instances for at most 10 s past the 3 s timeout.
    private static readonly Lab.Protocol.Settings.RegistrySettings Preserving = RunningRegistry.TestSettings with { SelfPreservationLimit = TimeSpan.FromSeconds(10) };

    [Test]
    public void Register_stores_the_instance_with_status_true_even_when_sent_false()
    {
        (RegistryService registry, _, LogRecorder log) = Create();

        InstanceMeta stored = registry.Register(Instance(8080, status: false));

        stored.Status.ShouldBeTrue();
        registry.FindHealthy("json").Single().Status.ShouldBeTrue();
        log.Lines.ShouldContain(line => line.EndsWith("INFO  RegistryService: Registered json://127.0.0.1:8080", StringComparison.Ordinal));
    }

    [Test]
    public void Registering_the_same_protocol_host_and_port_again_is_a_heartbeat_not_a_second_instance()
    {
        (RegistryService registry, _, LogRecorder log) = Create();

        registry.Register(Instance(8080));
        registry.Register(Instance(8080, host: "LOCALHOST"));
        registry.Register(Instance(8080, host: "localhost"));
        registry.Register(Instance(8080, protocol: "JSON"));

        // 127.0.0.1 and localhost are different hosts; LOCALHOST and localhost, or json and JSON, are not.
        registry.Snapshot().Count.ShouldBe(2);
        log.Lines.Count(line => line.Contains("Heartbeat from", StringComparison.Ordinal)).ShouldBe(2);
    }

    [Test]
    public void A_heartbeat_replaces_the_parameters_so_a_new_weight_takes_effect()
    {
        (RegistryService registry, _, _) = Create();
        registry.Register(Instance(8080));

        InstanceMeta heavier = Instance(8080);
        heavier.Parameters["weight"] = System.Text.Json.JsonDocument.Parse("5").RootElement.Clone();
        registry.Register(heavier);

        registry.FindHealthy("json").Single().Weight.ShouldBe(5);
    }

    [Test]
    public void FindHealthy_filters_by_protocol_case_insensitively_and_orders_by_host_then_port()
    {
        (RegistryService registry, _, _) = Create();
        registry.Register(Instance(9002, host: "10.0.0.2"));
        registry.Register(Instance(9001, host: "10.0.0.2"));
        registry.Register(Instance(9000, host: "10.0.0.1"));
        registry.Register(Instance(9000, protocol: "xml"));

        registry.FindHealthy("JSON").Select(i => i.Address).ShouldBe(["10.0.0.1:9000", "10.0.0.2:9001", "10.0.0.2:9002"]);
        registry.FindHealthy("xml").Select(i => i.Address).ShouldBe(["127.0.0.1:9000"]);
    }

    [Test]
    public void FindHealthy_leaves_out_an_instance_past_the_timeout_before_any_health_check_runs()
    {
        (RegistryService registry, FakeTimeProvider clock, _) = Create();
        registry.Register(Instance(8080));

        clock.Advance(Timeout);
        registry.FindHealthy("json").Count.ShouldBe(1, "exactly at the timeout it is still healthy");
        clock.Advance(TimeSpan.FromMilliseconds(1));

        registry.FindHealthy("json").ShouldBeEmpty();
        registry.Snapshot().Count.ShouldBe(1, "only the health check removes it");
    }

    [Test]
    public void EvictExpired_removes_only_silent_instances_and_reports_how_long_they_were_silent()
    {
        (RegistryService registry, FakeTimeProvider clock, _) = Create();
        registry.Register(Instance(8080));
        clock.Advance(TimeSpan.FromSeconds(2));
        registry.Register(Instance(8081));
        clock.Advance(TimeSpan.FromSeconds(2));

        IReadOnlyList<EvictedInstance> evicted = registry.EvictExpired().Evicted;

        evicted.Single().Instance.Port.ShouldBe(8080);
        evicted.Single().Silence.ShouldBe(TimeSpan.FromSeconds(4));
        registry.FindHealthy("json").Select(i => i.Port).ShouldBe([8081]);
        registry.EvictExpired().Evicted.ShouldBeEmpty();
    }

    [Test]
    public void Unregister_removes_a_known_instance_and_is_harmless_for_an_unknown_one()
    {
        (RegistryService registry, _, LogRecorder log) = Create();
        registry.Register(Instance(8080));

        registry.Unregister(Instance(8080));
        registry.Unregister(Instance(8080));

        registry.Snapshot().Count.ShouldBe(0);
        log.Lines.Count(line => line.EndsWith("INFO  RegistryService: Unregistered json://127.0.0.1:8080", StringComparison.Ordinal)).ShouldBe(1);
    }

    [Test]
    public void Without_self_preservation_the_default_every_silent_instance_goes_however_many_fall_silent_at_once()
    {
        (RegistryService registry, FakeTimeProvider clock, _) = Create();
        HeartbeatTogether(registry, clock, [8080, 8081], times: 2);
        clock.Advance(Timeout + TimeSpan.FromMilliseconds(1));

        registry.FindHealthy("json").ShouldBeEmpty("past the timeout, before any health check");
        registry.EvictExpired().Evicted.Select(gone => gone.Instance.Port).ShouldBe([8080, 8081], ignoreOrder: true);
        registry.SelfPreservation().Preserving.ShouldBeFalse();
    }

    [Test]
    public void Servers_that_went_silent_together_are_held_and_listed_then_evicted_anyway_after_the_limit()
    {
        // The shape: two servers heartbeating every second, 0.6 s apart, frozen at the same moment.
        // 8080's last heartbeat is at 2.0 s, 8081's at 2.6 s: at a check just after 5 s only 8080 is past
        // the timeout, and judging by that snapshot evicted it as an ordinary death, then 8081 alone.
        (RegistryService registry, FakeTimeProvider clock, _) = Create(Preserving);
        DateTimeOffset start = clock.GetUtcNow();
        foreach (double at in new[] { 0, 0.6, 1, 1.6, 2, 2.6 })
        {
            clock.SetUtcNow(start + TimeSpan.FromSeconds(at));
            registry.Register(Instance(at % 1 == 0 ? 8080 : 8081));
        }

        clock.SetUtcNow(start + TimeSpan.FromSeconds(5.05));
        registry.EvictExpired().Evicted.ShouldBeEmpty("8080 is judged one heartbeat interval after its timeout, when 8081's silence shows too");
        registry.FindHealthy("json").Select(i => i.Port).ShouldBe([8080, 8081], "while it judges, the registry keeps listing");

        clock.SetUtcNow(start + TimeSpan.FromSeconds(6.05));
        registry.EvictExpired().Evicted.ShouldBeEmpty();
        SelfPreservationState held = registry.SelfPreservation();
        (held.Preserving, held.Silent, held.Total).ShouldBe((true, 2, 2));
        registry.FindHealthy("json").Select(i => i.Port).ShouldBe([8080, 8081]);

        // Held for at most self_preservation_limit past the timeout, each from its own last heartbeat.
        clock.SetUtcNow(start + TimeSpan.FromSeconds(2 + 3 + 10 + 0.05));
        EvictedInstance first = registry.EvictExpired().Evicted.ShouldHaveSingleItem();
        (first.Instance.Port, first.Reason).ShouldBe((8080, EvictionReason.HeldTooLong));
        clock.SetUtcNow(start + TimeSpan.FromSeconds(2.6 + 3 + 10 + 0.05));
        registry.EvictExpired().Evicted.ShouldHaveSingleItem().Instance.Port.ShouldBe(8081);
        registry.FindHealthy("json").ShouldBeEmpty();
        registry.EvictExpired().Evicted.ShouldBeEmpty();
        registry.SelfPreservation().Preserving.ShouldBeFalse("nobody left to hold");
    }

    [Test]
    public void With_self_preservation_an_ordinary_death_is_evicted_one_heartbeat_interval_after_the_timeout()
    {
        (RegistryService registry, FakeTimeProvider clock, _) = Create(Preserving);
        HeartbeatTogether(registry, clock, [8080, 8081, 8082], times: 2);   // 1 s apart: the window is 1 s
        for (int second = 1; second <= 3; second++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            registry.Register(Instance(8080));
            registry.Register(Instance(8081));
        }

        clock.Advance(TimeSpan.FromSeconds(0.5));   // 8082 silent for 3.5 s: past the timeout, not yet judged
        registry.Register(Instance(8080));
        registry.Register(Instance(8081));
        registry.EvictExpired().Evicted.ShouldBeEmpty();
        registry.FindHealthy("json").Count.ShouldBe(3);

        clock.Advance(TimeSpan.FromSeconds(0.6));   // 4.1 s > timeout + window: 1 of 3 silent, an ordinary death
        EvictedInstance gone = registry.EvictExpired().Evicted.ShouldHaveSingleItem();
        (gone.Instance.Port, gone.Reason).ShouldBe((8082, EvictionReason.Silent));
        registry.SelfPreservation().Preserving.ShouldBeFalse();
    }

    [Test]
    public void When_heartbeats_return_the_hold_ends_and_one_still_silent_is_evicted_a_heartbeat_timeout_after_the_heal()
    {
        (RegistryService registry, FakeTimeProvider clock, _) = Create(Preserving);
        HeartbeatTogether(registry, clock, [8080, 8081, 8082], times: 2);   // 1 s apart: the window is 1 s
        for (int second = 1; second <= 5; second++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            registry.Register(Instance(8080));
        }

        registry.EvictExpired().Evicted.ShouldBeEmpty();
        registry.SelfPreservation().Preserving.ShouldBeTrue("2 of 3 silent together, more than 50%");

        registry.Register(Instance(8081));
        registry.EvictExpired().Evicted.ShouldBeEmpty("8082 could not reach the registry before the heal either: it is judged from now");
        registry.SelfPreservation().Preserving.ShouldBeFalse("1 of 3 silent");
        DateTimeOffset healed = clock.GetUtcNow();

        clock.SetUtcNow(healed + Timeout + TimeSpan.FromSeconds(1));   // the timeout and the 1 s window, not more
        registry.Register(Instance(8080));
        registry.Register(Instance(8081));
        registry.EvictExpired().Evicted.ShouldBeEmpty();
        clock.Advance(TimeSpan.FromMilliseconds(1));
        EvictedInstance gone = registry.EvictExpired().Evicted.ShouldHaveSingleItem();
        (gone.Instance.Port, gone.Reason).ShouldBe((8082, EvictionReason.Silent));
        registry.FindHealthy("json").Select(i => i.Port).ShouldBe([8080, 8081]);
    }

    [Test]
    public void Servers_that_come_back_one_by_one_after_a_heal_are_none_of_them_evicted()
    {
        // registry-partitioned-from-servers: two servers cut off together, held; at the heal one server's
        // request was just lost and it retries only after its registry timeout (2 s), after the other was back.
        (RegistryService registry, FakeTimeProvider clock, _) = Create(Preserving);
        HeartbeatTogether(registry, clock, [8080, 8081], times: 2);
        clock.Advance(Timeout + TimeSpan.FromSeconds(1.5));
        registry.EvictExpired().Evicted.ShouldBeEmpty();
        registry.SelfPreservation().Preserving.ShouldBeTrue();

        registry.Register(Instance(8080));
        for (int tenth = 0; tenth < 20; tenth++)
        {
            registry.EvictExpired().Evicted.ShouldBeEmpty($"{tenth / 10.0:0.0} s after the first came back");
            clock.Advance(TimeSpan.FromMilliseconds(100));
            registry.Register(Instance(8080));
        }

        registry.Register(Instance(8081));
        registry.EvictExpired().Evicted.ShouldBeEmpty();
        registry.FindHealthy("json").Select(i => i.Port).ShouldBe([8080, 8081]);
        registry.SelfPreservation().Preserving.ShouldBeFalse();
    }

    [Test]
    public void Instances_that_never_heartbeated_do_not_count_towards_self_preservation_and_go_at_the_timeout()
    {
        // 300 made-up registrations that never heartbeat, next to two real servers that do.
        (RegistryService registry, FakeTimeProvider clock, _) = Create(Preserving);
        HeartbeatTogether(registry, clock, [8080, 8081], times: 2);
        for (int port = 20000; port < 20300; port++)
            registry.Register(Instance(port));
        registry.SelfPreservation().Total.ShouldBe(2);

        clock.Advance(Timeout + TimeSpan.FromMilliseconds(1));
        registry.Register(Instance(8080));
        registry.Register(Instance(8081));

        IReadOnlyList<EvictedInstance> evicted = registry.EvictExpired().Evicted;
        evicted.Count.ShouldBe(300);
        evicted.ShouldAllBe(gone => gone.Reason == EvictionReason.NeverHeartbeated);
        registry.SelfPreservation().Preserving.ShouldBeFalse();
        registry.FindHealthy("json").Select(i => i.Port).ShouldBe([8080, 8081]);
    }

    [Test]
    public void When_full_a_new_instance_takes_the_place_of_the_oldest_that_never_heartbeated()
    {
        (RegistryService registry, FakeTimeProvider clock, LogRecorder log) = Create(RunningRegistry.TestSettings with { MaxInstances = 3 });
        HeartbeatTogether(registry, clock, [8080], times: 2);
        registry.Register(Instance(9001));
        clock.Advance(TimeSpan.FromSeconds(0.1));
        registry.Register(Instance(9002));

        registry.Register(Instance(8081));

        registry.Snapshot().Select(entry => entry.Instance.Port).ShouldBe([8080, 9002, 8081], ignoreOrder: true);
        log.Lines.ShouldContain(line => line.EndsWith("INFO  RegistryService: Dropped json://127.0.0.1:9001, which never sent a heartbeat, to make room for json://127.0.0.1:8081 (max_instances 3)", StringComparison.Ordinal));
    }

    [Test]
    public void When_full_of_instances_that_all_heartbeat_a_new_one_is_refused()
    {
        (RegistryService registry, FakeTimeProvider clock, _) = Create(RunningRegistry.TestSettings with { MaxInstances = 2 });
        HeartbeatTogether(registry, clock, [8080, 8081], times: 2);

        Should.Throw<RegistryFullException>(() => registry.Register(Instance(8082)))
            .Message.ShouldBe("the registry is full: it holds max_instances (2) instances, all of them heartbeating");
        registry.Register(Instance(8080));   // a heartbeat is no new instance: still fine
    }

    [Test]
    public void Listed_is_what_FindHealthy_answers_for_every_protocol()
    {
        (RegistryService registry, FakeTimeProvider clock, _) = Create();
        registry.Register(Instance(9000, protocol: "xml"));
        registry.Register(Instance(8081));
        clock.Advance(Timeout);
        registry.Register(Instance(8080));
        clock.Advance(TimeSpan.FromMilliseconds(1));   // 9000 and 8081 are now past the timeout

        registry.Listed().Select(entry => entry.Instance.ToString()).ShouldBe(["json://127.0.0.1:8080"]);
        registry.Listed().Select(entry => entry.Instance).ShouldBe(registry.FindHealthy("json").Concat(registry.FindHealthy("xml")));
    }

    [Test]
    public async Task Concurrent_registers_heartbeats_unregisters_and_evictions_leave_a_consistent_store()
    {
        // Self-preservation off (the default): all 1000 expire together at the end, and must all be evicted.
        (RegistryService registry, FakeTimeProvider clock, LogRecorder log) = Create();
        using var start = new Barrier(4);

        // Four threads at once: registering 1..1000, heart-beating them, unregistering the even ones,
        // and evicting (nothing is expired: the clock does not move).
        Task[] workers =
        [
            OwnThread.Run(() => { start.SignalAndWait(); for (int port = 1; port <= 1000; port++) registry.Register(Instance(port)); }),
            OwnThread.Run(() => { start.SignalAndWait(); for (int port = 1; port <= 1000; port++) registry.Register(Instance(port)); }),
            OwnThread.Run(() => { start.SignalAndWait(); for (int i = 0; i < 100; i++) registry.EvictExpired().Evicted.ShouldBeEmpty(); }),
            OwnThread.Run(() => { start.SignalAndWait(); for (int i = 0; i < 100; i++) registry.FindHealthy("json"); }),
        ];
        await Task.WhenAll(workers).WaitAsync(TestTimeouts.Unexpected);

        registry.Snapshot().Count.ShouldBe(1000);
        // Each instance was added exactly once, whichever thread came first; the other call was a heartbeat.
        log.Lines.Count(line => line.Contains("Registered json://", StringComparison.Ordinal)).ShouldBe(1000);
        log.Lines.Count(line => line.Contains("Heartbeat from", StringComparison.Ordinal)).ShouldBe(1000);

        clock.Advance(Timeout + TimeSpan.FromSeconds(1));
        registry.EvictExpired().Evicted.Count.ShouldBe(1000);
        registry.Snapshot().Count.ShouldBe(0);
    }

    internal static InstanceMeta Instance(int port, string host = "127.0.0.1", string protocol = "json", bool status = true) =>
        new() { Protocol = protocol, Host = host, Port = port, Status = status };

    // Registers each port, then heartbeats them all times - 1 more, one second apart, so each is a heartbeating
    // instance whose heartbeats are a second apart; the clock ends at the last heartbeat.
    private static void HeartbeatTogether(RegistryService registry, FakeTimeProvider clock, int[] ports, int times)
    {
        for (int time = 0; time < times; time++)
        {
            if (time > 0)
                clock.Advance(TimeSpan.FromSeconds(1));
            foreach (int port in ports)
                registry.Register(Instance(port));
        }
    }

    private static (RegistryService Registry, FakeTimeProvider Clock, LogRecorder Log) Create(Lab.Protocol.Settings.RegistrySettings? settings = null)
    {
        var clock = new FakeTimeProvider();
        var log = new LogRecorder();
        using ILoggerFactory factory = log.CreateFactory();
        return (new RegistryService(settings ?? RunningRegistry.TestSettings, clock, factory.CreateLogger<RegistryService>()), clock, log);
    }
}
