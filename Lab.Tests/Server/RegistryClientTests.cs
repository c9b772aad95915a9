using System.Net;
using System.Net.Sockets;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Lab.Server;
using Lab.Tests.Server.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Lab.Tests.Server;

public class RegistryClientTests : LoggedTest
{
    private static readonly InstanceMeta Instance = new() { Host = "127.0.0.1", Port = 5555 };
    private static readonly string InstanceText = Instance.ToString();

    [Test]
    public async Task Registers_at_start_then_heartbeats_every_interval()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        await using RegistryClient client = CreateClient(registry.Port);

        await client.StartAsync(Instance);

        await registry.WaitUntilAsync(r => r.CountEvents($"register {InstanceText}") >= 3, "three registrations");
        await Log.WaitForLineAsync($@"INFO  RegistryClient: Registered with registry at http://127\.0\.0\.1:{registry.Port} as json://127\.0\.0\.1:5555");
        Log.Count("Registered with registry").ShouldBe(1);
        Log.Count("Heartbeat sent").ShouldBeGreaterThanOrEqualTo(1);
    }

    [Test]
    public async Task Heartbeats_keep_trying_after_an_exception_that_is_not_an_HTTP_failure()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        await using RegistryClient client = CreateClient(registry.Port);
        // An instance that cannot be serialized makes every heartbeat throw InvalidOperationException
        // before any HTTP happens: the kind of surprise that used to end the loop for good.
        var broken = new InstanceMeta { Host = "127.0.0.1", Port = 5556, Parameters = { ["weight"] = default } };

        await client.StartAsync(broken);

        await Log.WaitForLineAsync("Registry unreachable at .*; serving anyway and retrying");
        // Three retries after the same exception: the loop is still running, not ended by the first one.
        await Log.WaitForLineAsync("Registry still unreachable", occurrences: 3);
    }

    [Test]
    public async Task Registry_down_at_start_is_logged_once_retried_and_registered_when_it_appears()
    {
        await using FakeRegistry registry = FakeRegistry.NotStarted();
        await using RegistryClient client = CreateClient(registry.Port);

        await client.StartAsync(Instance);
        await Log.WaitForLineAsync($@"Registry unreachable at http://127\.0\.0\.1:{registry.Port}: .*; serving anyway and retrying");
        await Log.WaitForLineAsync("Registry still unreachable", occurrences: 3);
        await registry.StartAsync();

        await registry.WaitUntilAsync(r => r.Contains(InstanceText), "the instance registered");
        await Log.WaitForLineAsync(@"Registry reachable again; registered as json://127\.0\.0\.1:5555");
        Log.Count("Registry unreachable").ShouldBe(1);
    }

    [Test]
    public async Task Registry_restarted_with_an_empty_list_gets_the_entry_back_at_the_next_heartbeat()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        await using RegistryClient client = CreateClient(registry.Port);
        await client.StartAsync(Instance);
        await registry.WaitUntilAsync(r => r.Contains(InstanceText), "the first registration");

        await registry.StopAsync();
        await Log.WaitForLineAsync("Registry unreachable");
        await registry.StartAsync();

        registry.Instances.ShouldBeEmpty();
        await registry.WaitUntilAsync(r => r.Contains(InstanceText), "the entry back after the restart");
        await Log.WaitForLineAsync("Registry reachable again");
    }

    [Test]
    public async Task Stop_unregisters_at_once_and_no_heartbeat_follows()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        var clock = new FakeTimeProvider();
        await using RegistryClient client = CreateClient(registry.Port, clock: clock);
        await client.StartAsync(Instance);
        await registry.WaitUntilAsync(r => r.CountEvents("register") == 1, "the first registration");
        // The heartbeat runs on the fake clock: one interval later, one more registration.
        clock.Advance(TestSettings.Server().HeartbeatInterval);
        await registry.WaitUntilAsync(r => r.CountEvents("register") == 2, "a heartbeat");

        bool unregistered = await client.StopAsync();

        unregistered.ShouldBeTrue();
        registry.Contains(InstanceText).ShouldBeFalse();
        await Log.WaitForLineAsync("INFO  RegistryClient: Unregistered from registry");
        // Five heartbeat intervals pass on the clock the heartbeats run on, and none is sent.
        clock.Advance(TestSettings.Server().HeartbeatInterval * 5);
        registry.Events[^1].ShouldBe($"unregister {InstanceText}");
        registry.CountEvents("register").ShouldBe(2);
    }

    [Test]
    public async Task A_registry_that_refuses_the_token_is_reported_once_as_401_with_the_fix_and_retried()
    {
        await using Lab.Tests.Registry.RunningRegistry registry = await Lab.Tests.Registry.RunningRegistry.StartAsync(
            Lab.Tests.Registry.RunningRegistry.TestSettings with { Token = "s3cret" });
        await using RegistryClient client = new(TestSettings.Registry(registry.BaseUri.Port) with { Token = "wrong" }, TestSettings.Server(), LoggerFactory.CreateLogger<RegistryClient>());

        await client.StartAsync(Instance);

        await Log.WaitForLineAsync($@"ERROR RegistryClient: The registry at http://127\.0\.0\.1:{registry.BaseUri.Port} refused this server \(401\): its \[registry\] token and this server's differ .*set the same token in both config\.ini files");
        // It keeps trying (a registry restarted with the right token takes it at once), quietly.
        await Log.WaitForLineAsync("Registry still refuses this server: the registry answered 401", occurrences: 3);
        Log.Count("refused this server").ShouldBe(1);
        Log.Count("unreachable").ShouldBe(0);
        registry.Service.Snapshot().ShouldBeEmpty();
    }

    [Test]
    public async Task Stop_with_the_registry_down_reports_it_and_returns()
    {
        await using FakeRegistry registry = FakeRegistry.NotStarted();
        await using RegistryClient client = CreateClient(registry.Port);
        await client.StartAsync(Instance);
        await Log.WaitForLineAsync("Registry unreachable");

        bool unregistered = await client.StopAsync().WaitAsync(TestTimeouts.Unexpected);

        unregistered.ShouldBeFalse();
        await Log.WaitForLineAsync("INFO  RegistryClient: Could not unregister from registry: ");
    }

    [Test]
    public async Task Registry_that_never_answers_times_out_naming_the_request()
    {
        // Accepts connections (the kernel does, via the backlog) but never answers a byte.
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen(16);
        int port = ((IPEndPoint)silent.LocalEndPoint!).Port;
        await using RegistryClient client = CreateClient(port, TestSettings.Server() with { RegistryTimeout = TimeSpan.FromSeconds(0.2) });

        await client.StartAsync(Instance);

        await Log.WaitForLineAsync($@"Registry unreachable at http://127\.0\.0\.1:{port}: no answer from http://127\.0\.0\.1:{port}/myRegistry/register within 0\.2 s");
    }

    private RegistryClient CreateClient(int registryPort, ServerSettings? settings = null, TimeProvider? clock = null) =>
        new(TestSettings.Registry(registryPort), settings ?? TestSettings.Server(), LoggerFactory.CreateLogger<RegistryClient>(), clock);
}
