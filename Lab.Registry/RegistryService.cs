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
/// <para>An instance that registered once and never again is <em>unproven</em>: anyone can send one request,
/// so it has not shown that a server stands behind it. Unproven instances are listed like the others
/// (a server must be found right after it starts), but they never count towards self-preservation, they
/// are evicted as soon as they are silent, and when the store is full a new instance takes the place of
/// the oldest of them. So a flood of made-up registrations cannot lock real servers out; it lasts one
/// heartbeat_timeout.</para>
/// <para>Concurrency: every method may be called concurrently from any thread. The original lab kept a
/// plain dict that request threads and the health check changed at the same time. Here
/// <see cref="_gate"/> guards <see cref="_instances"/> and <see cref="_preservingSince"/>; it is held only
/// for the dictionary work, never across a request or a log line, so it is never contended for long.</para>
/// <example><code>
/// var registry = new RegistryService(settings, TimeProvider.System, logger);
/// registry.Register(new InstanceMeta { Host = "127.0.0.1", Port = 8089 });
/// IReadOnlyList&lt;InstanceMeta&gt; servers = registry.FindHealthy("json");
/// </code></example></remarks>
public sealed class RegistryService(RegistrySettings settings, TimeProvider timeProvider, ILogger<RegistryService> logger)
{
    private readonly Lock _gate = new();

    // Keyed by (protocol, host, port): registering the same triple again is a heartbeat.
    private readonly Dictionary<InstanceKey, Entry> _instances = [];

    // When self-preservation started holding silent instances; null while it holds none. The entries it
    // holds are marked Held (see EndHold).
    private DateTimeOffset? _preservingSince;

    /// <summary>Adds the instance (first time) or refreshes its heartbeat timestamp (every later time).</summary>
    /// <returns>The stored instance, with <c>status: true</c>.</returns>
    /// <exception cref="RegistryFullException">A new instance, and <c>max_instances</c> are stored, each of which has heartbeated.</exception>
    public InstanceMeta Register(InstanceMeta instance)
    {
        InstanceMeta stored = instance.With(status: true);
        DateTimeOffset now = timeProvider.GetUtcNow();
        Entry? displaced = null;
        bool isNew;
        lock (_gate)
        {
            isNew = !_instances.TryGetValue(instance.Key, out Entry? entry);
            if (entry is not null)
            {
                entry.Heartbeat(stored, now, settings.HeartbeatTimeout);
            }
            else
            {
                // A cap on entries, so a flood of made-up instances cannot fill the registry's memory or every
                // client's cache; and room made from instances nobody has vouched for, so it cannot lock out a real server.
                if (_instances.Count >= settings.MaxInstances)
                {
                    displaced = _instances.Values.Where(other => !other.Proven).MinBy(other => other.LastHeartbeat)
                                ?? throw new RegistryFullException($"the registry is full: it holds max_instances ({settings.MaxInstances}) instances, all of them heartbeating");
                    _instances.Remove(displaced.Instance.Key);
                }

                _instances[instance.Key] = new Entry(stored, now);
            }
        }

        if (displaced is not null)
        {
            logger.LogInformation("Dropped {Displaced}, which never sent a heartbeat, to make room for {Instance} (max_instances {Max})",
                displaced.Instance, stored, settings.MaxInstances);
            RegistryMetrics.Removed(evicted: true);
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

    /// <summary>The healthy instances of one protocol, ordered by host and port so answers are stable: the
    /// <see cref="Listed">listed</see> ones, the same as the dashboard shows.</summary>
    public IReadOnlyList<InstanceMeta> FindHealthy(string protocol) =>
        [.. Listed().Where(entry => string.Equals(entry.Instance.Protocol, protocol, StringComparison.OrdinalIgnoreCase)).Select(entry => entry.Instance)];

    /// <summary>What discovery lists, every protocol, ordered by protocol, host and port. An instance past its
    /// heartbeat timeout is left out even before the next health check evicts it — except with
    /// self-preservation on, where the health check alone decides (<see cref="EvictExpired"/>), so a
    /// registry cut off from its servers keeps listing them while it judges.</summary>
    public IReadOnlyList<ListedInstance> Listed()
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        lock (_gate)
        {
            TimeSpan window = TogetherWindow();
            return [.. _instances.Values
                .Where(entry => !IsSilent(entry, now) || (settings.SelfPreservationEnabled && entry.Proven))
                .OrderBy(entry => entry.Instance.Protocol, StringComparer.OrdinalIgnoreCase)
                .ThenBy(entry => entry.Instance.Host, StringComparer.OrdinalIgnoreCase)
                .ThenBy(entry => entry.Instance.Port)
                .Select(entry => new ListedInstance(entry.Instance, entry.LastHeartbeat, entry.Proven, EvictionDue(entry, window)))];
        }
    }

    /// <summary>Whether self-preservation holds silent instances now, since when, and how many of how many are silent.</summary>
    public SelfPreservationState SelfPreservation()
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        lock (_gate)
        {
            (int silent, int total) = CountSilent(now);
            return new SelfPreservationState(_preservingSince, silent, total, TogetherWindow(), settings.SelfPreservationLimit);
        }
    }

    /// <summary>The health check's verdict: removes the instances whose heartbeats stopped, and returns what was
    /// removed (how long each had been silent, and why) and self-preservation as it stood when it judged.</summary>
    /// <remarks><para>
    /// Without self-preservation (the default), every instance silent for longer than <c>heartbeat_timeout</c> goes.</para>
    /// <para>With it, a heartbeating instance that falls silent is judged one heartbeat interval later (as
    /// measured between heartbeats). Servers cut off from the registry at one moment each sent their last
    /// heartbeat within one interval before it, so by then every one of them is past its timeout too and
    /// is counted: "at once" is judged by when they went silent, not by which happen to be past the
    /// timeout at one check. If more than <c>self_preservation_percent</c> of the heartbeating instances
    /// (and at least two) are silent, they are held, still listed, for at most <c>self_preservation_limit</c>
    /// past their timeout; otherwise they are ordinary deaths and go. Instances that never heartbeated go
    /// as soon as they are silent, either way.</para>
    /// <para>When heartbeats return and the hold ends, the held instances still silent are judged from that
    /// moment, not from their last heartbeat: none could reach the registry before the heal, and a server
    /// whose request was lost in the cut only tries again after its own registry timeout, so they come
    /// back one by one. Each gets the usual silence allowance from the heal; one that died meanwhile goes then.</para></remarks>
    public HealthCheck EvictExpired()
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        List<EvictedInstance> evicted;
        SelfPreservationState judged;
        lock (_gate)
        {
            // Nobody ever showed these were alive, and they are no evidence of a partition: they go at once.
            evicted = RemoveSilent(now, entry => !entry.Proven, SilenceAllowed(proven: false, TimeSpan.Zero), EvictionReason.NeverHeartbeated);
            (int silent, int total) = CountSilent(now);
            TimeSpan window = TogetherWindow();
            bool together = settings.SelfPreservationEnabled && silent >= 2 && silent * 100 > settings.SelfPreservationPercent * total;
            if (!together && _preservingSince is not null)
                EndHold(now);              // heartbeats are back, or the held are gone: judge as usual, from now
            else if (together && _preservingSince is null && _instances.Values.Any(entry => entry.Proven && now - entry.JudgedFrom > settings.HeartbeatTimeout + window))
                _preservingSince = now;    // the first of them has waited its window: they went silent together

            if (_preservingSince is not null)
                MarkHeld(now);

            judged = new SelfPreservationState(_preservingSince, silent, total, window, settings.SelfPreservationLimit);
            evicted.AddRange(RemoveSilent(now, entry => entry.Proven, SilenceAllowed(proven: true, window),
                                          _preservingSince is null ? EvictionReason.Silent : EvictionReason.HeldTooLong));
        }

        foreach (EvictedInstance gone in evicted)
            RegistryMetrics.Removed(evicted: true);
        return new HealthCheck(evicted, judged);
    }

    /// <summary>Every stored instance with the time of its last heartbeat, listed or not.</summary>
    public IReadOnlyList<(InstanceMeta Instance, DateTimeOffset LastHeartbeat)> Snapshot()
    {
        lock (_gate)
            return [.. _instances.Values.Select(entry => (entry.Instance, entry.LastHeartbeat))];
    }

    private bool IsSilent(Entry entry, DateTimeOffset now) => now - entry.LastHeartbeat > settings.HeartbeatTimeout;

    // Called under _gate, while the hold lasts: the silent it holds now.
    private void MarkHeld(DateTimeOffset now)
    {
        foreach (Entry entry in _instances.Values.Where(entry => entry.Proven && IsSilent(entry, now)))
            entry.Held = true;
    }

    // Called under _gate, when the hold ends. If it ends because one it held heartbeats again (a heal), the
    // held that are still silent are judged from now (see EvictExpired); if because the held went, as usual.
    private void EndHold(DateTimeOffset now)
    {
        _preservingSince = null;
        bool healed = _instances.Values.Any(entry => entry.Held && !IsSilent(entry, now));
        foreach (Entry entry in _instances.Values.Where(entry => entry.Held))
        {
            if (healed && IsSilent(entry, now))
                entry.JudgeFrom(now);
            entry.Held = false;
        }
    }

    // Called under _gate: removes the entries that match and have been silent, as judged, for longer than silentFor.
    private List<EvictedInstance> RemoveSilent(DateTimeOffset now, Func<Entry, bool> which, TimeSpan silentFor, EvictionReason reason)
    {
        List<Entry> gone = [.. _instances.Values.Where(entry => which(entry) && now - entry.JudgedFrom > silentFor)];
        foreach (Entry entry in gone)
            _instances.Remove(entry.Instance.Key);
        return [.. gone.Select(entry => new EvictedInstance(entry.Instance, now - entry.LastHeartbeat, reason))];
    }

    // Called under _gate. Heartbeating (proven) instances only: a made-up registration is no evidence of a partition.
    private (int Silent, int Total) CountSilent(DateTimeOffset now)
    {
        int silent = 0, total = 0;
        foreach (Entry entry in _instances.Values.Where(entry => entry.Proven))
        {
            total++;
            silent += IsSilent(entry, now) ? 1 : 0;
        }

        return (silent, total);
    }

    // Called under _gate. How far apart in time servers cut off at one moment may have sent their last
    // heartbeats: one heartbeat interval, as measured (the longest of the heartbeating instances' last
    // intervals, so a server with a slower heartbeat than the others is covered too).
    private TimeSpan TogetherWindow() =>
        _instances.Values.Where(entry => entry.Proven).Select(entry => entry.Interval).DefaultIfEmpty(TimeSpan.Zero).Max();

    // Called under _gate. How long an instance may be silent before the health check evicts it: heartbeat_timeout;
    // with self-preservation on, a heartbeating one gets one window more while it is judged, or the limit while held.
    private TimeSpan SilenceAllowed(bool proven, TimeSpan window) =>
        settings.HeartbeatTimeout
        + (!proven || !settings.SelfPreservationEnabled ? TimeSpan.Zero
           : _preservingSince is null ? window
           : settings.SelfPreservationLimit);

    // Called under _gate. When the health check evicts this instance if no heartbeat comes first.
    private DateTimeOffset EvictionDue(Entry entry, TimeSpan window) => entry.JudgedFrom + SilenceAllowed(entry.Proven, window);

    // One stored instance. Guarded by _gate.
    private sealed class Entry(InstanceMeta instance, DateTimeOffset registeredAt)
    {
        public InstanceMeta Instance { get; private set; } = instance;

        public DateTimeOffset LastHeartbeat { get; private set; } = registeredAt;

        /// <summary>Where its silence is counted from for eviction: its last heartbeat, or the end of a
        /// self-preservation hold that held it, whichever is later.</summary>
        public DateTimeOffset JudgedFrom { get; private set; } = registeredAt;

        /// <summary>True once a second registration (a heartbeat) arrived: a server stands behind this instance.</summary>
        public bool Proven { get; private set; }

        /// <summary>Its heartbeat interval as last measured: the time between its last two heartbeats. A gap longer
        /// than heartbeat_timeout was an outage (it came back after going silent), not its interval.</summary>
        public TimeSpan Interval { get; private set; }

        public void Heartbeat(InstanceMeta instance, DateTimeOffset now, TimeSpan heartbeatTimeout)
        {
            TimeSpan gap = now - LastHeartbeat;
            Interval = gap <= heartbeatTimeout ? gap : Interval;
            (Instance, LastHeartbeat, JudgedFrom, Proven) = (instance, now, now, true);
        }

        /// <summary>Self-preservation held it (silent) at some check of the hold that is going on.</summary>
        public bool Held { get; set; }

        /// <summary>Its silence counts from <paramref name="moment"/> on (the end of a hold that held it).</summary>
        public void JudgeFrom(DateTimeOffset moment) => JudgedFrom = moment;
    }
}

/// <summary>A new instance was refused: the registry already holds <c>max_instances</c>, all heartbeating (answered 503).</summary>
public sealed class RegistryFullException(string message) : Exception(message);

/// <summary>Why the health check removed an instance.</summary>
public enum EvictionReason
{
    /// <summary>Silent past heartbeat_timeout (and, with self-preservation on, not silent together with most others).</summary>
    Silent,

    /// <summary>Silent past heartbeat_timeout after a single registration: nothing ever showed it was alive.</summary>
    NeverHeartbeated,

    /// <summary>Held by self-preservation, and silent past heartbeat_timeout + self_preservation_limit.</summary>
    HeldTooLong,
}

/// <summary>What one health check did: the instances it evicted, and self-preservation as it stood when it judged them.</summary>
public sealed record HealthCheck(IReadOnlyList<EvictedInstance> Evicted, SelfPreservationState SelfPreservation);

/// <summary>An instance the health check removed, how long it had gone without a heartbeat, and why.</summary>
public sealed record EvictedInstance(InstanceMeta Instance, TimeSpan Silence, EvictionReason Reason);

/// <summary>An instance discovery lists: when it last heartbeated, whether it ever did after registering, and when
/// the health check evicts it if no heartbeat comes.</summary>
public sealed record ListedInstance(InstanceMeta Instance, DateTimeOffset LastHeartbeat, bool Proven, DateTimeOffset EvictionDue);

/// <summary>Self-preservation as it stands: holding silent instances since <see cref="Since"/> (null: not holding),
/// <see cref="Silent"/> of the <see cref="Total"/> heartbeating instances silent now, the window within
/// which they count as silent together, and how long past heartbeat_timeout they may be held.</summary>
public sealed record SelfPreservationState(DateTimeOffset? Since, int Silent, int Total, TimeSpan Window, TimeSpan Limit)
{
    public bool Preserving => Since is not null;
}
