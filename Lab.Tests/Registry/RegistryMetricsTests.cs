using Lab.Registry;

namespace Lab.Tests.Registry;

/// <summary>
/// The registry's meter, read the way dotnet-counters reads it (a <see cref="MeterRecorder"/>), while real
/// HTTP requests reach a real registry. The meter is per process and other tests may register too, so
/// counts are checked as "at least".
/// </summary>
[NonParallelizable]
public class RegistryMetricsTests
{
    [Test]
    public async Task Registry_counts_registrations_heartbeats_and_removals()
    {
        using var recorder = new MeterRecorder(RegistryMetrics.MeterName);
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
}
