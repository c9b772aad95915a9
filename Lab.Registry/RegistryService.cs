using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;

namespace Lab.Registry;

/// <summary>Mirrors the lab's <c>RegistryService</c>: the registry center's instance list. Its one job is to
/// remember which servers are alive — add on register, refresh on heartbeat, remove on unregister
/// or when heartbeats stop — and answer "which healthy servers speak this protocol?".</summary>
/// <remarks><para>
/// Talks to nobody: <see cref="RequestHandler"/> calls it for HTTP requests and
/// <see cref="HealthChecker"/> calls <see cref="EvictExpired"/> on a timer. Time comes from the
/// injected <see cref="TimeProvider"/> so tests can move the clock instead of waiting.</para>
/// <para>Concurrency: every method may be called concurrently from any thread. The original lab kept a
/// plain dict that request threads and the health check changed at the same time. Here
/// <see cref="_gate"/> guards <see cref="_instances"/>; it is held only for the dictionary operation,
/// never across a request or a log line, so it is never contended for long.</para>
/// <example><code>
/// var registry = new RegistryService(settings, TimeProvider.System, logger);
/// registry.Register(new InstanceMeta { Host = "127.0.0.1", Port = 8089 });
/// IReadOnlyList&lt;InstanceMeta&gt; servers = registry.FindHealthy("json");
/// </code></example></remarks>
public sealed class RegistryService(RegistrySettings settings, TimeProvider timeProvider, ILogger<RegistryService> logger)
{
    private readonly Lock _gate = new();

    // Keyed by (protocol, host, port): registering the same triple again is a heartbeat.
    private readonly Dictionary<InstanceKey, (InstanceMeta Instance, DateTimeOffset LastHeartbeat)> _instances = [];

    // When each recent eviction happened (guarded by _gate). Servers cut off together do not expire at
    // the same health check: their last heartbeats are a fraction of an interval apart. Counting the
    // ones evicted within the last heartbeat_timeout as silent too keeps the second from following
    // the first, so a partition never empties the list one server at a time.
    private readonly Queue<DateTimeOffset> _recentEvictions = new();

    /// <summary>Adds the instance (first time) or refreshes its heartbeat timestamp (every later time).</summary>
    /// <returns>The stored instance, with <c>status: true</c>.</returns>
    /// <exception cref="RegistryFullException">A new instance, and <c>max_instances</c> are stored already.</exception>
    public InstanceMeta Register(InstanceMeta instance)
    {
        InstanceMeta stored = instance.With(status: true);
        bool isNew;
        lock (_gate)
        {
            isNew = !_instances.ContainsKey(instance.Key);
            // A cap on entries, so a flood of made-up instances cannot fill the registry's memory or every client's cache.
            if (isNew && _instances.Count >= settings.MaxInstances)
                throw new RegistryFullException($"the registry is full: it holds max_instances ({settings.MaxInstances}) instances");
            _instances[instance.Key] = (stored, timeProvider.GetUtcNow());
        }

        if (isNew)
            logger.LogInformation("Registered {Instance}", stored);
        else
            logger.LogDebug("Heartbeat from {Instance}", stored);
        RegistryMetrics.Registered(isNew);
        return stored;
    }

    /// <summary>Removes the instance. An unknown instance is not an error (it may have been evicted already).</summary>
    public void Unregister(InstanceMeta instance)
    {
        bool removed;
        lock (_gate)
            removed = _instances.Remove(instance.Key);

        if (removed)
        {
            logger.LogInformation("Unregistered {Instance}", instance);
            RegistryMetrics.Removed(evicted: false);
        }
        else
            logger.LogDebug("Unregister of {Instance}, which is not registered", instance);
    }

    /// <summary>The healthy instances of one protocol, ordered by host and port so answers are stable.
    /// An instance past its heartbeat timeout is left out even before the next health check evicts it,
    /// except during <see cref="SelfPreservation">self-preservation</see>.</summary>
    public IReadOnlyList<InstanceMeta> FindHealthy(string protocol)
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        lock (_gate)
        {
            bool preserving = SelfPreservationAt(now).Preserving;
            return _instances.Values
                .Where(entry => string.Equals(entry.Instance.Protocol, protocol, StringComparison.OrdinalIgnoreCase)
                                && (preserving || now - entry.LastHeartbeat <= settings.HeartbeatTimeout))
                .Select(entry => entry.Instance)
                .OrderBy(instance => instance.Host, StringComparer.OrdinalIgnoreCase)
                .ThenBy(instance => instance.Port)
                .ToList();
        }
    }

    /// <summary>Eureka's self-preservation: when more than <c>self_preservation_percent</c> of the instances,
    /// and at least two, are silent at once, the likelier story is that the registry was cut off from
    /// them (a network partition), not that they all died. Evicting them would hand every client an
    /// empty list; keeping them costs only the failover the clients do anyway. Two at least, so the
    /// lab's "kill 1 of 2 servers" (one silent, 50%) is still evicted.</summary>
    public (bool Preserving, int Silent, int Total) SelfPreservation()
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        lock (_gate)
            return SelfPreservationAt(now);
    }

    /// <summary>Removes every instance whose last heartbeat is older than the heartbeat timeout, unless self-preserving.</summary>
    /// <returns>What was removed and how long each had been silent.</returns>
    public IReadOnlyList<EvictedInstance> EvictExpired()
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        lock (_gate)
        {
            if (SelfPreservationAt(now).Preserving)
                return [];
            List<EvictedInstance> evicted = [.. _instances.Values
                .Where(entry => now - entry.LastHeartbeat > settings.HeartbeatTimeout)
                .Select(entry => new EvictedInstance(entry.Instance, now - entry.LastHeartbeat))];
            foreach (EvictedInstance gone in evicted)
            {
                _instances.Remove(gone.Instance.Key);
                _recentEvictions.Enqueue(now);
                RegistryMetrics.Removed(evicted: true);
            }

            return evicted;
        }
    }

    // Called under _gate.
    private (bool Preserving, int Silent, int Total) SelfPreservationAt(DateTimeOffset now)
    {
        while (_recentEvictions.TryPeek(out DateTimeOffset at) && now - at > settings.HeartbeatTimeout)
            _recentEvictions.Dequeue();
        int silent = _recentEvictions.Count + _instances.Values.Count(entry => now - entry.LastHeartbeat > settings.HeartbeatTimeout);
        int total = _recentEvictions.Count + _instances.Count;
        return (silent >= 2 && silent * 100 > settings.SelfPreservationPercent * total, silent, total);
    }

    /// <summary>Every stored instance with the time of its last heartbeat (the dashboard's view).</summary>
    public IReadOnlyList<(InstanceMeta Instance, DateTimeOffset LastHeartbeat)> Snapshot()
    {
        lock (_gate)
            return [.. _instances.Values];
    }
}

/// <summary>A new instance was refused: the registry already holds <c>max_instances</c> (answered 503).</summary>
public sealed class RegistryFullException(string message) : Exception(message);

/// <summary>An instance the health check removed, and how long it had gone without a heartbeat.</summary>
public sealed record EvictedInstance(InstanceMeta Instance, TimeSpan Silence);
