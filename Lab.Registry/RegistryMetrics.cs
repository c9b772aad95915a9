using System.Diagnostics.Metrics;

namespace Lab.Registry;

/// <summary>
/// The registry's meter, <c>RpcLab.Registry</c>: instances stored now, registrations, heartbeats,
/// unregistrations and evictions. Static, one set per process; thread-safe.
/// </summary>
public static class RegistryMetrics
{
    public const string MeterName = "RpcLab.Registry";

    private static readonly Meter Meter = new(MeterName, typeof(RegistryMetrics).Assembly.GetName().Version?.ToString());
    private static long s_instances;

    // Observed, not added to: a monitor attached later (dotnet-counters) still sees the current count.
    private static readonly ObservableUpDownCounter<long> Instances = Meter.CreateObservableUpDownCounter(
        "rpclab.registry.instances", () => Interlocked.Read(ref s_instances), "{instance}", "Instances stored now");
    private static readonly Counter<long> Registrations = Meter.CreateCounter<long>("rpclab.registry.registrations", "{registration}", "First registrations of an instance");
    private static readonly Counter<long> Heartbeats = Meter.CreateCounter<long>("rpclab.registry.heartbeats", "{heartbeat}", "Re-registrations of a stored instance");
    private static readonly Counter<long> Unregistrations = Meter.CreateCounter<long>("rpclab.registry.unregistrations", "{instance}", "Instances removed by their server");
    private static readonly Counter<long> Evictions = Meter.CreateCounter<long>("rpclab.registry.evictions", "{instance}", "Instances removed for missing heartbeats");

    /// <summary>A new instance (<paramref name="isNew"/>) or a heartbeat of a stored one.</summary>
    public static void Registered(bool isNew)
    {
        if (isNew)
        {
            Registrations.Add(1);
            Interlocked.Increment(ref s_instances);
        }
        else
        {
            Heartbeats.Add(1);
        }
    }

    /// <summary>A stored instance was removed: by its server, or <paramref name="evicted"/> by the health check.</summary>
    public static void Removed(bool evicted)
    {
        (evicted ? Evictions : Unregistrations).Add(1);
        Interlocked.Decrement(ref s_instances);
    }
}
