using Microsoft.Extensions.Logging;
using Lab.Protocol.Discovery;

namespace Lab.Client;

/// <summary>The client's local list of servers (the lab's RegistryClient cache), whichever backend fills it:
/// the built-in registry's polls or etcd's watch hand it whole lists, failover removes servers that
/// failed, and <see cref="Instances"/> is what load balancing picks from.</summary>
/// <remarks><para>
/// Only healthy <c>json</c> instances with a host that can be dialled are kept. When the registry is
/// unreachable the cache is kept — the servers are probably still there — and the outage is logged
/// once, not once per attempt.</para>
/// <para>Concurrency: any thread may call any member; <see cref="_gate"/> guards every field, held for a
/// few instructions (each call reads <see cref="Instances"/> once), so nothing contends for long.</para></remarks>
/// <param name="emptyDoubtFor">How long an empty list is doubted while servers are cached (the registry's heartbeat_timeout).</param>
/// <param name="banFor">How long a server that failed stays out (<c>unreachable_ban</c>).</param>
public sealed class InstanceCache(string registryAddress, TimeSpan emptyDoubtFor, TimeSpan banFor, ILogger logger, TimeProvider? timeProvider = null)
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private readonly Dictionary<InstanceKey, DateTimeOffset> _dropped = [];
    private IReadOnlyList<InstanceMeta> _listed = [];
    private IReadOnlyList<InstanceMeta> _instances = [];
    private DateTimeOffset? _emptySince;
    private bool _down;
    private bool _discovered;

    /// <summary>The servers to call now; a snapshot that never changes after it is handed out.</summary>
    public IReadOnlyList<InstanceMeta> Instances
    {
        get
        {
            lock (_gate)
            {
                // A dropped server comes back when its drop ends even if no new list arrives: etcd sends
                // nothing while nothing changes.
                if (_dropped.Count > 0 && _dropped.Values.Min() <= _time.GetUtcNow())
                    Publish();
                return _instances;
            }
        }
    }

    /// <summary>True from a failed read until the next successful one.</summary>
    public bool RegistryDown
    {
        get
        {
            lock (_gate)
                return _down;
        }
    }

    /// <summary>Takes the registry's current list. A registry that restarted (after a crash or kill -9) lists
    /// nothing until its servers' next heartbeats; believing that would fail every call for a heartbeat
    /// interval. So unless <paramref name="emptyIsFinal"/> (etcd: a consistent store), an empty list while
    /// servers are cached is believed only once it has lasted <c>emptyDoubtFor</c>, by which time every
    /// live server has re-registered.</summary>
    public void Replace(IEnumerable<InstanceMeta> listed, bool emptyIsFinal = false)
    {
        InstanceMeta[] found = [.. listed.Where(instance => instance.Status && !HostAddress.IsWildcard(instance.Host)
                                                             && string.Equals(instance.Protocol, InstanceMeta.JsonProtocol, StringComparison.OrdinalIgnoreCase))];
        lock (_gate)
        {
            DateTimeOffset now = _time.GetUtcNow();
            if (found.Length == 0 && _listed.Count > 0 && !emptyIsFinal && now - (_emptySince ?? now) < emptyDoubtFor)
            {
                if (_emptySince is null)
                    logger.LogWarning("Registry at {Registry} lists no {Protocol} instance; keeping {Count} cached instances for up to {Seconds:0.###} s in case it has just restarted",
                        registryAddress, InstanceMeta.JsonProtocol, _listed.Count, emptyDoubtFor.TotalSeconds);
                _emptySince ??= now;
                found = [.. _listed];
            }
            else if (found.Length > 0)
                _emptySince = null;

            // A drop is forgotten once the registry stops listing the server, so a later registration
            // of the same address is taken at once.
            var listedKeys = found.Select(instance => instance.Key).ToHashSet();
            foreach (InstanceKey key in _dropped.Keys.Where(key => !listedKeys.Contains(key)).ToArray())
                _dropped.Remove(key);

            IReadOnlyList<InstanceMeta> previous = _listed;
            _listed = found;
            Publish();
            if (_down)
                logger.LogInformation("Registry reachable again at {Registry}; {Count} instances: {Instances}", registryAddress, _instances.Count, Describe(_instances));
            else if (!_discovered)
                logger.LogInformation("Discovered {Count} {Protocol} instances at {Registry}: {Instances}",
                    _instances.Count, InstanceMeta.JsonProtocol, registryAddress, _instances.Count > 0 ? Describe(_instances) : "none yet");
            else
                LogChanges(previous, found);   // what the registry lists, not what failover left: "removed" is discovery's word
            (_down, _discovered) = (false, true);
        }
    }

    /// <summary>Records a failed read: the cache is kept; the first failure of an outage is logged.</summary>
    /// <returns>True for the first failure of an outage (later ones are the caller's to log at Debug).</returns>
    public bool ReportOutage(string reason, TimeSpan retryEvery)
    {
        lock (_gate)
        {
            if (_down)
                return false;
            _down = true;
            logger.LogWarning("Registry unreachable at {Registry}: {Reason}; keeping {Count} cached instances and retrying every {Interval:0.###} s",
                registryAddress, reason, _instances.Count, retryEvery.TotalSeconds);
            return true;
        }
    }

    /// <summary>Drops a server that failed (failover: it refused a connection, or missed a probe). A dead
    /// server stays listed until the registry notices (heartbeat or lease timeout), so it is kept out for
    /// <c>unreachable_ban</c>; after that, if it is still listed, it is alive after all and comes back.</summary>
    /// <returns>True when the instance was in the cache.</returns>
    public bool Remove(InstanceMeta instance)
    {
        lock (_gate)
        {
            // TryAdd: other calls failing on the same server must not keep extending its drop.
            _dropped.TryAdd(instance.Key, _time.GetUtcNow() + banFor);
            IReadOnlyList<InstanceMeta> previous = Publish();
            return previous.Count != _instances.Count;
        }
    }

    /// <summary><c>127.0.0.1:8001, [::1]:8002</c>.</summary>
    private static string Describe(IEnumerable<InstanceMeta> instances) => string.Join(", ", instances.Select(instance => instance.Address));

    // Under _gate: ends the drops that are over, publishes the listed minus the dropped, and returns
    // what was published before.
    private IReadOnlyList<InstanceMeta> Publish()
    {
        DateTimeOffset now = _time.GetUtcNow();
        foreach ((InstanceKey key, DateTimeOffset _) in _dropped.Where(drop => drop.Value <= now).ToArray())
            _dropped.Remove(key);

        IReadOnlyList<InstanceMeta> previous = _instances;
        _instances = _dropped.Count == 0 ? _listed : [.. _listed.Where(instance => !_dropped.ContainsKey(instance.Key))];
        return previous;
    }

    private void LogChanges(IReadOnlyList<InstanceMeta> previous, IReadOnlyList<InstanceMeta> current)
    {
        var before = previous.Select(instance => instance.Key).ToHashSet();
        var after = current.Select(instance => instance.Key).ToHashSet();
        string added = Describe(current.Where(instance => !before.Contains(instance.Key)));
        string removed = Describe(previous.Where(instance => !after.Contains(instance.Key)));
        if (added.Length > 0 || removed.Length > 0)
            logger.LogInformation("Server cache updated from {Registry}: {Count} instances ({Instances}); added: {Added}; removed: {Removed}",
                registryAddress, current.Count, Describe(current), added.Length > 0 ? added : "none", removed.Length > 0 ? removed : "none");
    }
}
