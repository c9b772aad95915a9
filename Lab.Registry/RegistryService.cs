using System.Collections.Concurrent;
using Lab.Protocol.Configuration;
using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;

namespace Lab.Registry;

/// <summary>
/// Mirrors the lab's <c>RegistryService</c>: the registry center's instance list. Its one job is to
/// remember which servers are alive — add on register, refresh on heartbeat, remove on unregister
/// or when heartbeats stop — and answer "which healthy servers speak this protocol?".
/// </summary>
/// <remarks>
/// <para>
/// Talks to nobody: <see cref="RequestHandler"/> calls it for HTTP requests and
/// <see cref="HealthChecker"/> calls <see cref="EvictExpired"/> on a timer. Time comes from the
/// injected <see cref="TimeProvider"/> so tests can move the clock instead of waiting.
/// </para>
/// <para>
/// Concurrency: every method may be called concurrently from any thread. The original lab kept a
/// plain dict that request threads and the health check changed at the same time. Here
/// <see cref="_instances"/> is a <see cref="ConcurrentDictionary{TKey,TValue}"/> whose entries are
/// immutable and replaced atomically, so no lock is held across a request.
/// </para>
/// <example>
/// <code>
/// var registry = new RegistryService(settings, TimeProvider.System, logger);
/// registry.Register(new InstanceMeta { Host = "127.0.0.1", Port = 8089 });
/// IReadOnlyList&lt;InstanceMeta&gt; servers = registry.FindHealthy("json");
/// </code>
/// </example>
/// </remarks>
public sealed class RegistryService(RegistrySettings settings, TimeProvider timeProvider, ILogger<RegistryService> logger)
{
    // Keyed by (protocol, host, port): registering the same triple again is a heartbeat.
    private readonly ConcurrentDictionary<InstanceKey, Entry> _instances = new();

    /// <summary>How many instances are stored, healthy or not yet evicted.</summary>
    public int Count => _instances.Count;

    /// <summary>
    /// Adds the instance (first time) or refreshes its heartbeat timestamp (every later time).
    /// </summary>
    /// <returns>The stored instance, with <c>status: true</c>.</returns>
    /// <exception cref="RegistryFullException">A new instance, and <c>max_instances</c> are stored already.</exception>
    public InstanceMeta Register(InstanceMeta instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var entry = new Entry(instance.With(status: true), timeProvider.GetUtcNow());
        while (true)
        {
            // A cap on entries, so a flood of made-up instances cannot fill the registry's memory or
            // every client's cache. Checked without a lock: concurrent registrations may pass it by a few.
            if (_instances.Count >= settings.MaxInstances && !_instances.ContainsKey(instance.Key))
            {
                throw new RegistryFullException($"the registry is full: it holds max_instances ({settings.MaxInstances}) instances");
            }

            if (_instances.TryAdd(instance.Key, entry))
            {
                logger.LogInformation("Registered {Instance}", entry.Instance);
                RegistryMetrics.Registered(isNew: true);
                return entry.Instance;
            }

            // Replace only the exact entry we saw: if another request or an eviction got there
            // first, go round again and decide afresh whether this is a new instance or a heartbeat.
            if (_instances.TryGetValue(instance.Key, out Entry? existing) && _instances.TryUpdate(instance.Key, entry, existing))
            {
                logger.LogDebug("Heartbeat from {Instance}", entry.Instance);
                RegistryMetrics.Registered(isNew: false);
                return entry.Instance;
            }
        }
    }

    /// <summary>Removes the instance. An unknown instance is not an error (it may have been evicted already).</summary>
    /// <returns>True when the instance was registered.</returns>
    public bool Unregister(InstanceMeta instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        if (_instances.TryRemove(instance.Key, out Entry? removed))
        {
            logger.LogInformation("Unregistered {Instance}", removed.Instance);
            RegistryMetrics.Removed(evicted: false);
            return true;
        }

        logger.LogDebug("Unregister of {Instance}, which is not registered", instance);
        return false;
    }

    /// <summary>
    /// The healthy instances of one protocol, ordered by host and port so answers are stable.
    /// An instance past its heartbeat timeout is left out even before the next health check evicts it,
    /// except during <see cref="SelfPreservation">self-preservation</see>.
    /// </summary>
    public IReadOnlyList<InstanceMeta> FindHealthy(string protocol)
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        bool preserving = SelfPreservation().Preserving;
        return _instances.Values
            .Where(entry => string.Equals(entry.Instance.Protocol, protocol, StringComparison.OrdinalIgnoreCase)
                            && (preserving || !IsExpired(entry, now)))
            .Select(entry => entry.Instance)
            .OrderBy(instance => instance.Host, StringComparer.OrdinalIgnoreCase)
            .ThenBy(instance => instance.Port)
            .ToList();
    }

    /// <summary>
    /// Eureka's self-preservation: when more than <c>self_preservation_percent</c> of the instances,
    /// and at least two, are silent at once, the likelier story is that the registry was cut off from
    /// them (a network partition), not that they all died. Evicting them would hand every client an
    /// empty list; keeping them costs only the failover the clients do anyway. Two at least, so the
    /// lab's "kill 1 of 2 servers" (one silent, 50%) is still evicted.
    /// </summary>
    public (bool Preserving, int Silent, int Total) SelfPreservation()
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        ICollection<Entry> entries = _instances.Values;
        int silent = entries.Count(entry => IsExpired(entry, now));
        return (silent >= 2 && silent * 100 > settings.SelfPreservationPercent * entries.Count, silent, entries.Count);
    }

    /// <summary>Removes every instance whose last heartbeat is older than the heartbeat timeout, unless self-preserving.</summary>
    /// <returns>What was removed and how long each had been silent.</returns>
    public IReadOnlyList<EvictedInstance> EvictExpired()
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        var evicted = new List<EvictedInstance>();
        if (SelfPreservation().Preserving)
        {
            return evicted;
        }

        foreach ((InstanceKey key, Entry entry) in _instances)
        {
            // Remove this exact entry only: a heartbeat that replaced it after we looked wins.
            if (IsExpired(entry, now) && _instances.TryRemove(KeyValuePair.Create(key, entry)))
            {
                evicted.Add(new EvictedInstance(entry.Instance, now - entry.LastHeartbeat));
                RegistryMetrics.Removed(evicted: true);
            }
        }

        return evicted;
    }

    /// <summary>Every stored instance with the time of its last heartbeat (the dashboard's view).</summary>
    public IEnumerable<(InstanceMeta Instance, DateTimeOffset LastHeartbeat)> Snapshot() =>
        _instances.Values.Select(entry => (entry.Instance, entry.LastHeartbeat));

    private bool IsExpired(Entry entry, DateTimeOffset now) => now - entry.LastHeartbeat > settings.HeartbeatTimeout;

    // Immutable, compared by reference: a heartbeat stores a new Entry, so "the entry I saw" is exact.
    private sealed class Entry(InstanceMeta instance, DateTimeOffset lastHeartbeat)
    {
        public InstanceMeta Instance { get; } = instance;

        public DateTimeOffset LastHeartbeat { get; } = lastHeartbeat;
    }
}

/// <summary>A new instance was refused: the registry already holds <c>max_instances</c> (answered 503).</summary>
public sealed class RegistryFullException(string message) : Exception(message);

/// <summary>An instance the health check removed, and how long it had gone without a heartbeat.</summary>
public sealed record EvictedInstance(InstanceMeta Instance, TimeSpan Silence);
