using dotnet_etcd;
using Etcdserverpb;
using Lab.Discovery.Etcd;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Lab.Scenarios.Harness;
using Lab.Tests.Server.Support;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Discovery.Etcd;

/// <summary>The server side on a real etcd: a key attached to a lease, kept alive, removed on stop, re-created after an outage.</summary>
[Slow]
public class EtcdRegistrationTests : LoggedTest
{
    private static readonly InstanceMeta Instance = new() { Host = "127.0.0.1", Port = 5555 };

    [Test]
    public async Task Registers_the_instance_json_under_its_key_with_a_lease_of_heartbeat_timeout()
    {
        await using EtcdCluster etcd = await EtcdTestCluster.StartAsync();
        RegistrySettings settings = EtcdTestCluster.Settings(etcd, heartbeatTimeoutSeconds: 7);
        using EtcdClient store = EtcdTestCluster.Client(etcd);
        await using EtcdRegistration registration = Create(settings);

        await registration.StartAsync(Instance);
        await Log.WaitForLineAsync($@"Registered with registry at etcd {etcd.ClientEndpoints} as json://127\.0\.0\.1:5555");

        RangeResponse range = await store.GetAsync($"{settings.EtcdPrefix}/services/json/127.0.0.1:5555");
        Mvccpb.KeyValue key = range.Kvs.ShouldHaveSingleItem();
        key.Value.ToStringUtf8().ShouldBe("""{"protocol":"json","host":"127.0.0.1","port":5555,"status":true,"parameters":{}}""");
        LeaseTimeToLiveResponse lease = await store.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = key.Lease });
        lease.GrantedTTL.ShouldBe(7);
    }

    [Test]
    public async Task Keep_alives_hold_the_key_past_the_lease_ttl()
    {
        await using EtcdCluster etcd = await EtcdTestCluster.StartAsync();
        RegistrySettings settings = EtcdTestCluster.Settings(etcd, heartbeatTimeoutSeconds: 1);
        using EtcdClient store = EtcdTestCluster.Client(etcd);
        await using EtcdRegistration registration = Create(settings);

        await registration.StartAsync(Instance);
        // Keep-alives every 0.1 s; wait for more of them than fit in one TTL of 1 s, then look.
        await Log.WaitForLineAsync("Heartbeat sent to etcd", occurrences: 15);

        (await store.GetAsync($"{settings.EtcdPrefix}/services/json/127.0.0.1:5555")).Kvs.Count.ShouldBe(1);
    }

    [Test]
    public async Task Stop_deletes_the_key_and_revokes_the_lease()
    {
        await using EtcdCluster etcd = await EtcdTestCluster.StartAsync();
        RegistrySettings settings = EtcdTestCluster.Settings(etcd);
        using EtcdClient store = EtcdTestCluster.Client(etcd);
        await using EtcdRegistration registration = Create(settings);
        await registration.StartAsync(Instance);
        await Log.WaitForLineAsync("Registered with registry");
        long leaseId = (await store.GetAsync($"{settings.EtcdPrefix}/services/json/127.0.0.1:5555")).Kvs[0].Lease;

        bool unregistered = await registration.StopAsync();

        unregistered.ShouldBeTrue();
        Log.Count("Unregistered from registry").ShouldBe(1);
        (await store.GetRangeAsync(settings.EtcdPrefix)).Kvs.ShouldBeEmpty();
        (await store.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = leaseId })).TTL.ShouldBe(-1);   // -1: no such lease
    }

    [Test]
    public async Task A_lease_lost_meanwhile_is_granted_anew_and_the_key_written_again()
    {
        await using EtcdCluster etcd = await EtcdTestCluster.StartAsync();
        RegistrySettings settings = EtcdTestCluster.Settings(etcd);
        using EtcdClient store = EtcdTestCluster.Client(etcd);
        await using EtcdRegistration registration = Create(settings);
        await registration.StartAsync(Instance);
        await Log.WaitForLineAsync("Registered with registry");
        string key = $"{settings.EtcdPrefix}/services/json/127.0.0.1:5555";
        long firstLease = (await store.GetAsync(key)).Kvs[0].Lease;

        // What an expiry during an outage leaves behind: no lease, no key.
        await store.LeaseRevokeAsync(new LeaseRevokeRequest { ID = firstLease });

        await Log.WaitForLineAsync("expired; granting a new one and writing the key again");
        await Log.WaitForLineAsync("Heartbeat sent", occurrences: Log.Count("Heartbeat sent") + 1);
        Mvccpb.KeyValue again = (await store.GetAsync(key)).Kvs.ShouldHaveSingleItem();
        again.Lease.ShouldNotBe(firstLease);
    }

    [Test]
    public async Task Etcd_down_is_logged_once_and_the_server_registers_again_when_it_is_back()
    {
        await using EtcdCluster etcd = await EtcdTestCluster.StartAsync();
        RegistrySettings settings = EtcdTestCluster.Settings(etcd);
        await using EtcdRegistration registration = Create(settings, TestSettings.Server() with { RegistryTimeout = TimeSpan.FromSeconds(1) });
        await registration.StartAsync(Instance);
        await Log.WaitForLineAsync("Registered with registry");

        await etcd.KillAsync(0, TestTimeouts.Unexpected);
        await Log.WaitForLineAsync($"Registry unreachable at etcd {etcd.ClientEndpoints}: .*; serving anyway and retrying");
        await Log.WaitForLineAsync("Registry still unreachable", occurrences: 2);
        await etcd.RestartAsync(0, TestTimeouts.Unexpected);

        await Log.WaitForLineAsync(@"Registry reachable again; registered as json://127\.0\.0\.1:5555");
        Log.Count("Registry unreachable").ShouldBe(1);
        using EtcdClient store = EtcdTestCluster.Client(etcd);
        (await store.GetAsync($"{settings.EtcdPrefix}/services/json/127.0.0.1:5555")).Kvs.Count.ShouldBe(1);
    }

    private EtcdRegistration Create(RegistrySettings registry, ServerSettings? settings = null) =>
        new(registry, settings ?? TestSettings.Server(), LoggerFactory.CreateLogger<EtcdRegistration>());
}
