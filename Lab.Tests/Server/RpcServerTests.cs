using Microsoft.Extensions.Hosting;
using System.Net;
using System.Text.Json;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Lab.Server;
using Lab.Tests.Server.Support;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Server;

public class RpcServerTests : LoggedTest
{
    private const string AddRequest = """{"method_name": "add", "method_args": [1, 2], "method_kwargs": {}}""";

    [Test]
    public async Task Start_serves_and_registers_and_graceful_stop_removes_the_entry_at_once()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        await using RpcServer server = CreateServer(TestSettings.Server(), registry.Port);

        await server.StartAsync();
        string instance = $"json://127.0.0.1:{server.LocalEndPoint.Port}";
        await Log.WaitForLineAsync($@"INFO  RpcServer: Server listening on 127\.0\.0\.1:{server.LocalEndPoint.Port}");
        await registry.WaitUntilAsync(r => r.Contains(instance), instance);
        await using (RawRpcConnection client = await RawRpcConnection.ConnectAsync(server.LocalEndPoint))
        {
            (await client.CallAsync(AddRequest)).Result().GetDouble().ShouldBe(13);
        }

        await server.StopAsync();

        registry.Contains(instance).ShouldBeFalse();
        registry.Events[^1].ShouldBe($"unregister {instance}");
        await Log.WaitForLineAsync("Unregistered from registry");
        Log.Lines[^1].ShouldEndWith("INFO  RpcServer: Server stopped");
    }

    [Test]
    public async Task Wildcard_listen_address_registers_the_advertised_host()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        await using RpcServer server = CreateServer(TestSettings.Server() with { Host = "0.0.0.0", AdvertiseHost = "127.0.0.1" }, registry.Port);

        await server.StartAsync();

        await Log.WaitForLineAsync($@"Server listening on 0\.0\.0\.0:{server.LocalEndPoint.Port}");
        await registry.WaitUntilAsync(r => r.Contains($"json://127.0.0.1:{server.LocalEndPoint.Port}"), "the advertised address");
        await using RawRpcConnection client = await RawRpcConnection.ConnectAsync(server.LocalEndPoint.Port);
        (await client.CallAsync(AddRequest)).Result().GetDouble().ShouldBe(13);
    }

    [Test]
    public async Task Port_in_use_fails_to_start_and_never_registers()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        await using var occupant = new RunningTcpServer();
        await using RpcServer server = CreateServer(TestSettings.Server() with { Port = occupant.EndPoint.Port }, registry.Port);

        ServerStartException error = await Should.ThrowAsync<ServerStartException>(() => server.StartAsync());

        error.Message.ShouldContain("the address is already in use");
        registry.Events.ShouldBeEmpty();
        Log.Count("Server listening").ShouldBe(0);
    }

    [Test]
    public async Task Registry_down_at_start_serves_anyway_and_registers_when_the_registry_appears()
    {
        await using FakeRegistry registry = FakeRegistry.NotStarted();
        await using RpcServer server = CreateServer(TestSettings.Server(), registry.Port);

        await server.StartAsync();
        await Log.WaitForLineAsync("Registry unreachable");
        await using (RawRpcConnection client = await RawRpcConnection.ConnectAsync(server.LocalEndPoint))
        {
            (await client.CallAsync(AddRequest)).Result().GetDouble().ShouldBe(13);
        }

        await registry.StartAsync();
        await registry.WaitUntilAsync(r => r.Contains($"json://127.0.0.1:{server.LocalEndPoint.Port}"), "the late registration");
        await Log.WaitForLineAsync("Registry reachable again; registered as json://127.0.0.1:");
        Log.Count("Registry unreachable").ShouldBe(1);
    }

    [Test]
    public async Task Stop_with_the_registry_down_still_completes()
    {
        await using FakeRegistry registry = FakeRegistry.NotStarted();
        await using RpcServer server = CreateServer(TestSettings.Server(), registry.Port);
        await server.StartAsync();
        await Log.WaitForLineAsync("Registry unreachable");

        await server.StopAsync().WaitAsync(TestTimeouts.Unexpected);

        await Log.WaitForLineAsync("Could not unregister from registry");
        Log.Lines[^1].ShouldEndWith("Server stopped");
    }

    [Test]
    public async Task Stop_finishes_an_in_flight_call_and_closes_idle_clients_promptly()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        await using RpcServer server = CreateServer(TestSettings.Server() with { DrainTimeout = TimeSpan.FromSeconds(30) }, registry.Port);
        await server.StartAsync();
        await using RawRpcConnection idle = await RawRpcConnection.ConnectAsync(server.LocalEndPoint);
        await using RawRpcConnection busy = await RawRpcConnection.ConnectAsync(server.LocalEndPoint);
        await busy.SendRawAsync("""{"method_name": "sleep", "method_args": [0.3]}""");
        await Log.WaitForLineAsync("Connection from .* opened", occurrences: 2);
        // Stop only once the call is in flight: a request still unread when the stop begins is never started.
        await Log.WaitForLineAsync(" sleep started");

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await server.StopAsync().WaitAsync(TestTimeouts.Unexpected);

        // The stop waited for the 0.3 s call, not for the idle client or the 30 s drain deadline.
        stopping.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(5));
        JsonElement reply = await busy.ReadReplyAsync();
        reply.Result().GetDouble().ShouldBe(0.3);
        (await idle.WaitForServerToCloseAsync()).ShouldBeTrue("the server closes the connection");
        await Log.WaitForLineAsync("Connection from .* closed", occurrences: 2);
    }

    [Test]
    public async Task A_listener_that_fails_while_running_stops_the_host_and_the_stop_leaves_the_registry()
    {
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        var lifetime = new RecordingLifetime();
        await using var server = new RpcServer(TestSettings.Server(), TestSettings.Registry(registry.Port), LoggerFactory, lifetime);
        await server.StartAsync();
        string instance = $"json://127.0.0.1:{server.LocalEndPoint.Port}";
        await registry.WaitUntilAsync(r => r.Contains(instance), instance);

        ListenerFault.Break(server.LocalEndPoint.Port);
        await lifetime.StopRequested.WaitAsync(TestTimeouts.Unexpected);
        // What the host does next: the graceful stop, which unregisters.
        await server.StopAsync();

        server.Faulted.ShouldBeTrue();
        Log.Count(LogLevel.Critical, "Stopping the server: it can no longer accept connections").ShouldBe(1);
        registry.Contains(instance).ShouldBeFalse();
    }

    private sealed class RecordingLifetime : IHostApplicationLifetime
    {
        private readonly TaskCompletionSource _stopRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task StopRequested => _stopRequested.Task;

        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => _stopRequested.TrySetResult();
    }

    private RpcServer CreateServer(ServerSettings settings, int registryPort) =>
        new(settings, TestSettings.Registry(registryPort), LoggerFactory);
}
