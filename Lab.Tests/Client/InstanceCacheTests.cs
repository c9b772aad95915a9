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
    public async Task Polls_failovers_and_calls_may_use_the_cache_at_once_and_every_snapshot_is_a_whole_list()
    {
        // The poll loop replaces the list, failing calls drop servers and every call reads the list, all on
        // different threads (the original lab's cache was a plain list shared without a lock). Each snapshot a
        // reader gets must be one the cache published: one of the two lists, minus dropped servers, never a torn one.
        InstanceMeta[] first = [A, B];
        InstanceMeta[] second = [B, new InstanceMeta { Host = "127.0.0.1", Port = 8003 }];
        HashSet<int> everyPort = [8001, 8002, 8003];
        using var stop = new CancellationTokenSource();
        using var readersRunning = new CountdownEvent(4);
        int snapshots = 0;
        // Threads of their own: four spinning readers would hold the thread pool's (OwnThread says why).
        Task[] readers = [.. Enumerable.Range(0, 4).Select(_ => OwnThread.Run(() =>
        {
            readersRunning.Signal();
            while (!stop.IsCancellationRequested)
            {
                IReadOnlyList<InstanceMeta> snapshot = _cache.Instances;
                int[] ports = [.. snapshot.Select(instance => instance.Port)];
                ports.Distinct().Count().ShouldBe(ports.Length);
                ports.ShouldAllBe(port => everyPort.Contains(port));
                ports.Length.ShouldBeLessThanOrEqualTo(2);
                Interlocked.Increment(ref snapshots);
            }
        }))];
        // The writers start once every reader reads, so the two really overlap.
        readersRunning.Wait(TestTimeouts.Unexpected).ShouldBeTrue();
        Task poller = OwnThread.Run(() =>
        {
            for (int round = 0; round < 2_000; round++)
                _cache.Replace(round % 2 == 0 ? first : second);
        });
        Task dropper = OwnThread.Run(() =>
        {
            for (int round = 0; round < 2_000; round++)
                _cache.Remove(round % 2 == 0 ? A : B);
        });

        await Task.WhenAll(poller, dropper);
        await stop.CancelAsync();
        await Task.WhenAll(readers);

        snapshots.ShouldBeGreaterThan(0);
        _cache.Replace(first);
        _cache.Instances.Select(instance => instance.Port).ShouldBeSubsetOf([8001, 8002]);
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
