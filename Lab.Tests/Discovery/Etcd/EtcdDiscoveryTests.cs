using dotnet_etcd;
using Lab.Client;
using Lab.Discovery.Etcd;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Lab.Scenarios.Harness;
using Lab.Server;
using Lab.Tests.Client.Support;
using Lab.Tests.Server.Support;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Discovery.Etcd;

/// <summary>The client side on a real etcd: one read, then a watch; outages keep the cache; a broken watch is replaced.</summary>
[Slow]
public class EtcdDiscoveryTests : LoggedTest
{
    [Test]
    public async Task Start_reads_the_list_then_the_watch_follows_puts_and_deletes()
    {
        await using EtcdCluster etcd = await EtcdTestCluster.StartAsync();
        RegistrySettings settings = EtcdTestCluster.Settings(etcd);
        using EtcdClient store = EtcdTestCluster.Client(etcd);
        await store.PutAsync(KeyOf(settings, 8001), Json(8001));
        await store.PutAsync($"{settings.EtcdPrefix}/services/json/not-json", "{oops");
        await store.PutAsync($"{settings.EtcdPrefix}/services/xml/127.0.0.1:9000", Json(9000));
        await using EtcdDiscovery discovery = Create(settings);

        await discovery.StartAsync();
        Ports(discovery).ShouldBe([8001]);
        Log.Count($"Discovered 1 json instances at etcd {etcd.ClientEndpoints}: 127.0.0.1:8001").ShouldBe(1);
        Log.Count("Ignoring etcd key").ShouldBe(1);

        await store.PutAsync(KeyOf(settings, 8002), Json(8002));
        await Log.WaitForLineAsync("added: 127.0.0.1:8002");
        Ports(discovery).ShouldBe([8001, 8002]);

        await store.DeleteAsync(KeyOf(settings, 8001));
        await Log.WaitForLineAsync("removed: 127.0.0.1:8001");
        Ports(discovery).ShouldBe([8002]);
    }

    [Test]
    public async Task Values_no_client_can_read_are_skipped_one_key_at_a_time_in_the_read_and_the_watch()
    {
        // "\ud800" and raw bytes that are not UTF-8 used to fail the whole read, so no server was found at all.
        await using EtcdCluster etcd = await EtcdTestCluster.StartAsync();
        RegistrySettings settings = EtcdTestCluster.Settings(etcd);
        using EtcdClient store = EtcdTestCluster.Client(etcd);
        await store.PutAsync(KeyOf(settings, 8001), Json(8001));
        await PutBytesAsync(store, $"{settings.EtcdPrefix}/services/json/surrogate", """{"protocol":"json","host":"bad\ud800","port":1,"status":true,"parameters":{}}"""u8.ToArray());
        await PutBytesAsync(store, $"{settings.EtcdPrefix}/services/json/not-utf8", [.. """{"protocol":"json","host":"127.0.0.1","port":2,"parameters":{"n":" """u8, 0xFF, .. "\"}}"u8]);
        await using EtcdDiscovery discovery = Create(settings);

        await discovery.StartAsync();

        Ports(discovery).ShouldBe([8001]);
        discovery.RegistryDown.ShouldBeFalse();
        Log.Count("Ignoring etcd key .*/surrogate: a string in the instance is not valid Unicode text").ShouldBe(1);
        Log.Count("Ignoring etcd key .*/not-utf8: the instance is not valid UTF-8 text").ShouldBe(1);

        await PutBytesAsync(store, $"{settings.EtcdPrefix}/services/json/key-surrogate", """{"protocol":"json","host":"127.0.0.1","port":3,"parameters":{"\ud800":1}}"""u8.ToArray());
        await store.PutAsync(KeyOf(settings, 8002), Json(8002));
        await Log.WaitForLineAsync("added: 127.0.0.1:8002");
        Ports(discovery).ShouldBe([8001, 8002]);
        Log.Count("Ignoring etcd key .*/key-surrogate: a key in the instance is not valid Unicode text").ShouldBe(1);
    }

    [Test]
    public async Task The_last_server_leaving_empties_the_cache_at_once()
    {
        // Unlike the built-in registry, an empty answer from etcd is not a restart artefact: no grace period.
        await using EtcdCluster etcd = await EtcdTestCluster.StartAsync();
        RegistrySettings settings = EtcdTestCluster.Settings(etcd);
        using EtcdClient store = EtcdTestCluster.Client(etcd);
        await store.PutAsync(KeyOf(settings, 8001), Json(8001));
        await using EtcdDiscovery discovery = Create(settings);
        await discovery.StartAsync();

        await store.DeleteAsync(KeyOf(settings, 8001));

        await Log.WaitForLineAsync("removed: 127.0.0.1:8001");
        discovery.Instances.ShouldBeEmpty();
    }

    [Test]
    public async Task Etcd_down_keeps_the_cache_and_the_watch_comes_back_with_a_fresh_read()
    {
        await using EtcdCluster etcd = await EtcdTestCluster.StartAsync();
        RegistrySettings settings = EtcdTestCluster.Settings(etcd);
        using (EtcdClient store = EtcdTestCluster.Client(etcd))
        {
            await store.PutAsync(KeyOf(settings, 8001), Json(8001));
        }

        await using EtcdDiscovery discovery = Create(settings, ClientTestSettings.Fast with { RegistryTimeout = TimeSpan.FromSeconds(1), PollInterval = TimeSpan.FromSeconds(0.5) });
        await discovery.StartAsync();

        await etcd.KillAsync(0, TestTimeouts.Unexpected);
        await Log.WaitForLineAsync("etcd watch ended");
        await Log.WaitForLineAsync($"Registry unreachable at etcd {etcd.ClientEndpoints}: .*keeping 1 cached instances");
        await Log.WaitForLineAsync("etcd read failed", occurrences: 2);
        discovery.RegistryDown.ShouldBeTrue();
        Ports(discovery).ShouldBe([8001]);

        await etcd.RestartAsync(0, TestTimeouts.Unexpected);
        await Log.WaitForLineAsync("Registry reachable again");
        using EtcdClient again = EtcdTestCluster.Client(etcd);
        await again.PutAsync(KeyOf(settings, 8002), Json(8002));
        await Log.WaitForLineAsync("added: 127.0.0.1:8002");
        discovery.RegistryDown.ShouldBeFalse();
        Log.Count("Registry unreachable").ShouldBe(1);
    }

    [Test]
    public async Task One_member_of_three_killed_changes_nothing_for_servers_or_clients()
    {
        await using EtcdCluster etcd = await EtcdTestCluster.StartAsync(3);
        RegistrySettings settings = EtcdTestCluster.Settings(etcd);
        await using EtcdDiscovery discovery = Create(settings);
        await discovery.StartAsync();
        await using EtcdRegistration first = new(settings, TestSettings.Server(), LoggerFactory.CreateLogger<EtcdRegistration>());
        await first.StartAsync(new InstanceMeta { Host = "127.0.0.1", Port = 8001 });
        await Log.WaitForLineAsync(CacheLists("127.0.0.1:8001"));

        await etcd.KillAsync(0, TestTimeouts.Unexpected);
        await using EtcdRegistration second = new(settings, TestSettings.Server(), LoggerFactory.CreateLogger<EtcdRegistration>());
        await second.StartAsync(new InstanceMeta { Host = "127.0.0.1", Port = 8002 });

        await Log.WaitForLineAsync(CacheLists("127.0.0.1:8002"));
        Ports(discovery).ShouldBe([8001, 8002]);
        Log.Count("expired; granting a new one").ShouldBe(0);   // the first server's lease lived on
    }

    [Test]
    public async Task A_server_and_a_client_configured_for_etcd_find_each_other_and_call()
    {
        await using EtcdCluster etcd = await EtcdTestCluster.StartAsync();
        RegistrySettings settings = EtcdTestCluster.Settings(etcd);
        // As the programs' composition roots do for [registry] backend = etcd: etcd's registration and discovery.
        await using var server = new RpcServer(TestSettings.Server(), new EtcdRegistration(settings, TestSettings.Server(), LoggerFactory.CreateLogger<EtcdRegistration>()), LoggerFactory);
        await server.StartAsync();

        await using RpcClient client = await RpcClient.ConnectAsync(
            new EtcdDiscovery(settings, ClientTestSettings.Fast, LoggerFactory.CreateLogger<EtcdDiscovery>()), ClientTestSettings.Fast, LoggerFactory);
        // The client's discovery is etcd's: its first read names the etcd endpoints, not a registry URL
        // (on a busy machine that first read may time out and say so, naming the same endpoints).
        Log.Count("(Discovered .* json instances|Registry unreachable) at etcd http://").ShouldBe(1);
        if (client.Instances.Count == 0)
        {
            await Log.WaitForLineAsync("added: 127.0.0.1:");
        }

        (await client.CallAsync<long>("add", [1, 2])).ShouldBe(13);
        await server.StopAsync();
        await Log.WaitForLineAsync("removed: 127.0.0.1:");
        client.Instances.ShouldBeEmpty();
    }

    // The discovery says its cache gained a server either as a watch update ("added: ...") or, after a read
    // slower than registry_timeout on a busy machine, in the list it reads on recovering ("Registry reachable again ...").
    private static string CacheLists(string address) =>
        $@"(added: [^;]*|Registry reachable again at .*){System.Text.RegularExpressions.Regex.Escape(address)}";

    private static Task PutBytesAsync(EtcdClient store, string key, byte[] value) =>
        store.PutAsync(new Etcdserverpb.PutRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8(key), Value = Google.Protobuf.ByteString.CopyFrom(value) });

    private static string KeyOf(RegistrySettings settings, int port) => $"{settings.EtcdPrefix}/services/json/127.0.0.1:{port}";

    private static string Json(int port) => $$$"""{"protocol":"json","host":"127.0.0.1","port":{{{port}}},"status":true,"parameters":{}}""";

    private static int[] Ports(IServiceDiscovery discovery) => [.. discovery.Instances.Select(instance => instance.Port).Order()];

    private EtcdDiscovery Create(RegistrySettings settings, ClientSettings? client = null) =>
        new(settings, client ?? ClientTestSettings.Fast, LoggerFactory.CreateLogger<EtcdDiscovery>());
}
