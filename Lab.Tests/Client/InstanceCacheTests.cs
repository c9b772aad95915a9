using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Lab.Client;

namespace Lab.Tests.Client;

public class InstanceCacheTests
{
    private static readonly TimeSpan DropFor = TimeSpan.FromSeconds(10);
    private static readonly InstanceMeta A = new() { Host = "127.0.0.1", Port = 8001 };
    private static readonly InstanceMeta B = new() { Host = "127.0.0.1", Port = 8002 };

    private LogRecorder _log = null!;
    private ILoggerFactory _loggerFactory = null!;
    private FakeTimeProvider _time = null!;
    private InstanceCache _cache = null!;

    [SetUp]
    public void CreateCache()
    {
        _log = new LogRecorder();
        _loggerFactory = _log.CreateFactory();
        _time = new FakeTimeProvider();
        _cache = new InstanceCache("etcd http://127.0.0.1:2379", DropFor, DropFor, _loggerFactory.CreateLogger("InstanceCache"), _time);
    }

    [TearDown]
    public void DisposeLog()
    {
        _loggerFactory.Dispose();
        _log.Dispose();
    }

    [Test]
    public void A_dropped_server_comes_back_when_its_drop_ends_even_without_a_new_list()
    {
        // etcd sends nothing while nothing changes, so the end of a drop cannot wait for the next list.
        _cache.Replace([A, B]);
        _cache.Remove(A).ShouldBeTrue();

        _time.Advance(DropFor - TimeSpan.FromTicks(1));
        Ports().ShouldBe([8002]);
        _time.Advance(TimeSpan.FromTicks(1));
        Ports().ShouldBe([8001, 8002]);
    }

    [Test]
    public void An_empty_list_is_believed_at_once_only_when_the_backend_says_it_is_final()
    {
        _cache.Replace([A]);
        _cache.Replace([]);
        Ports().ShouldBe([8001]);   // the built-in registry may just have restarted

        _cache.Replace([], emptyIsFinal: true);
        Ports().ShouldBeEmpty();
    }

    [Test]
    public void Removed_is_logged_when_discovery_stops_listing_a_server_that_failover_dropped_earlier()
    {
        _cache.Replace([A, B]);
        _cache.Remove(A);

        _cache.Replace([B]);

        _log.Count(LogLevel.Information, "removed: 127.0.0.1:8001").ShouldBe(1);
    }

    private int[] Ports() => [.. _cache.Instances.Select(instance => instance.Port).Order()];
}
