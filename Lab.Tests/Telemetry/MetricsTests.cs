using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Lab.Client;
using Lab.Protocol.Settings;
using Lab.Server;
using Lab.Registry;
using Lab.Tests.Client.Support;
using Lab.Tests.Registry;
using Lab.Tests.Server.Support;

namespace Lab.Tests.Telemetry;

/// <summary>
/// The programs' meters, read the way dotnet-counters reads them (a <see cref="MeterListener"/>), while
/// real calls go over real sockets. The meters are per process and other tests may call too, so counts
/// are checked as "at least".
/// </summary>
[NonParallelizable]
public class MetricsTests
{
    private const string Add = """{"method_name": "add", "method_args": [1, 2], "method_kwargs": {}}""";
    private const string DivideByZero = """{"method_name": "divide", "method_args": [1, 0], "method_kwargs": {}}""";

    [Test]
    public async Task Server_counts_calls_by_method_and_outcome_with_durations_bytes_and_open_connections()
    {
        using var recorder = new Recorder(ServerMetrics.MeterName);
        await using var server = new RunningTcpServer();
        await using (RawRpcConnection client = await server.ConnectAsync())
        {
            for (int i = 0; i < 20; i++)
            {
                await client.CallAsync(Add);
            }

            await client.CallAsync(DivideByZero);
            recorder.Observe();
            recorder.Last("rpclab.server.connections.open").ShouldBeGreaterThanOrEqualTo(1);
        }

        recorder.Sum("rpclab.server.calls", ("method", "add"), ("outcome", "ok")).ShouldBeGreaterThanOrEqualTo(20);
        recorder.Sum("rpclab.server.calls", ("method", "divide"), ("outcome", "MethodFailed")).ShouldBeGreaterThanOrEqualTo(1);
        recorder.Count("rpclab.server.call.duration").ShouldBeGreaterThanOrEqualTo(21);
        recorder.Sum("rpclab.server.bytes.received").ShouldBeGreaterThanOrEqualTo((20 * Add.Length) + DivideByZero.Length);
        recorder.Sum("rpclab.server.bytes.sent").ShouldBeGreaterThan(21 * 10);
    }

    [Test]
    public void Heartbeat_parameters_carry_the_call_totals_and_keep_the_weight()
    {
        var parameters = new Dictionary<string, JsonElement> { ["weight"] = JsonSerializer.SerializeToElement(3) };

        ServerMetrics.StampHeartbeat(parameters);

        parameters["weight"].GetInt32().ShouldBe(3);
        parameters[ServerMetrics.CallsParameter].ValueKind.ShouldBe(JsonValueKind.Number);
        parameters[ServerMetrics.ErrorsParameter].GetInt64().ShouldBeLessThanOrEqualTo(parameters[ServerMetrics.CallsParameter].GetInt64());
        parameters[ServerMetrics.CallsPerSecondParameter].GetDouble().ShouldBeGreaterThanOrEqualTo(0);
    }

    [Test]
    public async Task Client_counts_calls_by_server_and_outcome()
    {
        using var recorder = new Recorder(ClientMetrics.MeterName);
        await using var server = new RunningTcpServer();
        string address = $"127.0.0.1:{server.EndPoint.Port}";
        await using RpcClient client = RpcClient.Direct("127.0.0.1", server.EndPoint.Port, new ClientSettings());

        (await client.CallAsync<double>("add", [1, 2])).ShouldBe(13);
        await Should.ThrowAsync<RpcRemoteException>(() => client.CallAsync<double>("divide", [1, 0]));

        recorder.Sum("rpclab.client.calls", ("server", address), ("outcome", "ok")).ShouldBe(1);
        recorder.Sum("rpclab.client.calls", ("server", address), ("outcome", "RpcRemote")).ShouldBe(1);
    }

    [Test]
    public async Task Client_counts_a_failover_away_from_a_stopped_server_and_its_registry_polls()
    {
        using var recorder = new Recorder(ClientMetrics.MeterName);
        await using RunningTcpServer a = RunningTcpServer.Start("a");
        await using RunningTcpServer b = RunningTcpServer.Start("b");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetServers(a, b);
        await using RpcClient client = await RpcClient.ConnectToRegistryAsync(
            registry.Settings, ClientTestSettings.Fast, loadBalance: new LoadBalance(LoadBalanceStrategy.RoundRobin, seed: 1));
        (await client.CallAsync<string>("whoami")).ShouldBe("a");

        // The registry still lists "a": the next call given to it fails to connect and moves on to "b".
        await a.StopAsync();
        for (int i = 0; i < 4; i++)
        {
            (await client.CallAsync<string>("whoami")).ShouldBe("b");
        }

        recorder.Sum("rpclab.client.failovers", ("server", a.Address)).ShouldBeGreaterThanOrEqualTo(1);
        recorder.Sum("rpclab.client.calls", ("server", a.Address), ("outcome", "ok")).ShouldBe(1);
        recorder.Sum("rpclab.client.calls", ("server", b.Address), ("outcome", "ok")).ShouldBe(4);
        recorder.Sum("rpclab.client.discovery.refreshes", ("outcome", "ok")).ShouldBeGreaterThanOrEqualTo(1);
    }

    [Test]
    public async Task Registry_counts_registrations_heartbeats_and_removals()
    {
        using var recorder = new Recorder(RegistryMetrics.MeterName);
        await using RunningRegistry registry = await RunningRegistry.StartAsync();

        await registry.RegisterAsync(port: 18089);
        await registry.RegisterAsync(port: 18089);
        recorder.Observe();
        long instances = recorder.Last("rpclab.registry.instances");
        (await registry.PostJsonAsync("/myRegistry/unregister", RunningRegistry.Instance(18089))).EnsureSuccessStatusCode();
        recorder.Observe();

        recorder.Sum("rpclab.registry.registrations").ShouldBeGreaterThanOrEqualTo(1);
        recorder.Sum("rpclab.registry.heartbeats").ShouldBeGreaterThanOrEqualTo(1);
        recorder.Sum("rpclab.registry.unregistrations").ShouldBeGreaterThanOrEqualTo(1);
        instances.ShouldBeGreaterThanOrEqualTo(1);
        recorder.Last("rpclab.registry.instances").ShouldBe(instances - 1);
    }

    /// <summary>Every measurement of one meter's instruments, with its tags.</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)> _measurements = new();

        public Recorder(string meterName)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == meterName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => _measurements.Enqueue((instrument.Name, value, tags.ToArray())));
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => _measurements.Enqueue((instrument.Name, value, tags.ToArray())));
            _listener.Start();
        }

        /// <summary>Reads the observable instruments now (dotnet-counters does this once per refresh).</summary>
        public void Observe() => _listener.RecordObservableInstruments();

        public double Sum(string instrument, params (string Key, string Value)[] tags) => Matching(instrument, tags).Sum();

        public int Count(string instrument) => Matching(instrument, []).Count();

        public long Last(string instrument) => (long)Matching(instrument, []).Last();

        public void Dispose() => _listener.Dispose();

        private IEnumerable<double> Matching(string instrument, (string Key, string Value)[] tags) => _measurements
            .Where(measurement => measurement.Instrument == instrument
                                  && tags.All(tag => measurement.Tags.Any(actual => actual.Key == tag.Key && Equals(actual.Value?.ToString(), tag.Value))))
            .Select(measurement => measurement.Value);
    }
}
