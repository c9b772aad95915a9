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

        IReadOnlyList<EvictedInstance> evicted = registry.EvictExpired();

        evicted.Single().Instance.Port.ShouldBe(8080);
        evicted.Single().Silence.ShouldBe(TimeSpan.FromSeconds(4));
        registry.FindHealthy("json").Select(i => i.Port).ShouldBe([8081]);
        registry.EvictExpired().ShouldBeEmpty();
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
    public void While_most_instances_are_silent_FindHealthy_keeps_listing_them_and_EvictExpired_removes_none()
    {
        (RegistryService registry, FakeTimeProvider clock, _) = Create();
        registry.Register(Instance(8080));
        registry.Register(Instance(8081));
        registry.Register(Instance(8082));
        clock.Advance(Timeout + TimeSpan.FromSeconds(1));
        registry.Register(Instance(8082));

        registry.SelfPreservation().ShouldBe((true, 2, 3));
        registry.FindHealthy("json").Select(i => i.Port).ShouldBe([8080, 8081, 8082], "before any health check too");
        registry.EvictExpired().ShouldBeEmpty();

        registry.Register(Instance(8081));
        registry.SelfPreservation().ShouldBe((false, 1, 3));
        registry.FindHealthy("json").Select(i => i.Port).ShouldBe([8081, 8082]);
        registry.EvictExpired().Single().Instance.Port.ShouldBe(8080);
    }

    [Test]
    public void Servers_cut_off_together_but_expiring_at_different_checks_are_not_evicted_one_after_the_other()
    {
        // A partition: both servers stop at once, but their last heartbeats were 0.3 s apart, so
        // the first expires one health check before the second.
        (RegistryService registry, FakeTimeProvider clock, _) = Create();
        registry.Register(Instance(8080));
        clock.Advance(TimeSpan.FromSeconds(0.3));
        registry.Register(Instance(8081));
        clock.Advance(Timeout);

        registry.EvictExpired().Single().Instance.Port.ShouldBe(8080, "one of two silent is an ordinary death");
        clock.Advance(TimeSpan.FromSeconds(0.5));

        registry.SelfPreservation().ShouldBe((true, 2, 2), "the one evicted a moment ago still counts as silent");
        registry.EvictExpired().ShouldBeEmpty();
        registry.FindHealthy("json").Select(i => i.Port).ShouldBe([8081]);

        // Once the first eviction is older than the heartbeat timeout, a lone silent server is evicted again.
        clock.Advance(Timeout);
        registry.SelfPreservation().Preserving.ShouldBeFalse();
        registry.EvictExpired().Single().Instance.Port.ShouldBe(8081);
    }

    [Test]
    public async Task Concurrent_registers_heartbeats_unregisters_and_evictions_leave_a_consistent_store()
    {
        // Self-preservation off: all 1000 expire together at the end, and must all be evicted.
        (RegistryService registry, FakeTimeProvider clock, LogRecorder log) = Create(RunningRegistry.TestSettings with { SelfPreservationPercent = 100 });
        using var start = new Barrier(4);

        // Four threads at once: registering 1..1000, heart-beating them, unregistering the even ones,
        // and evicting (nothing is expired: the clock does not move).
        Task[] workers =
        [
            Task.Run(() => { start.SignalAndWait(); for (int port = 1; port <= 1000; port++) registry.Register(Instance(port)); }),
            Task.Run(() => { start.SignalAndWait(); for (int port = 1; port <= 1000; port++) registry.Register(Instance(port)); }),
            Task.Run(() => { start.SignalAndWait(); for (int i = 0; i < 100; i++) registry.EvictExpired().ShouldBeEmpty(); }),
            Task.Run(() => { start.SignalAndWait(); for (int i = 0; i < 100; i++) registry.FindHealthy("json"); }),
        ];
        await Task.WhenAll(workers).WaitAsync(TestTimeouts.Unexpected);

        registry.Snapshot().Count.ShouldBe(1000);
        // Each instance was added exactly once, whichever thread came first; the other call was a heartbeat.
        log.Lines.Count(line => line.Contains("Registered json://", StringComparison.Ordinal)).ShouldBe(1000);
        log.Lines.Count(line => line.Contains("Heartbeat from", StringComparison.Ordinal)).ShouldBe(1000);

        clock.Advance(Timeout + TimeSpan.FromSeconds(1));
        registry.EvictExpired().Count.ShouldBe(1000);
        registry.Snapshot().Count.ShouldBe(0);
    }

    internal static InstanceMeta Instance(int port, string host = "127.0.0.1", string protocol = "json", bool status = true) =>
        new() { Protocol = protocol, Host = host, Port = port, Status = status };

    private static (RegistryService Registry, FakeTimeProvider Clock, LogRecorder Log) Create(Lab.Protocol.Settings.RegistrySettings? settings = null)
    {
        var clock = new FakeTimeProvider();
        var log = new LogRecorder();
        using ILoggerFactory factory = log.CreateFactory();
        return (new RegistryService(settings ?? RunningRegistry.TestSettings, clock, factory.CreateLogger<RegistryService>()), clock, log);
    }
}
