using System.Text.Json;
using Lab.Protocol;
using Lab.Protocol.Configuration;
using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;

namespace Lab.Client;

/// <summary>
/// Mirrors the lab's client-side <c>RegistryClient</c>: finds the <c>json</c> servers through the
/// registry center, keeps them in a local cache, and refreshes the cache every <c>poll_interval</c>
/// (lab requirements §6).
/// </summary>
/// <remarks>
/// <para>
/// Talks to the registry's <c>GET /myRegistry/findAllInstances?proto=json</c> (lab requirements §4). Every request
/// has its own <c>registry_timeout</c> (the original had none, so a hung registry hung the client).
/// When the registry is down the cache is kept — the servers are probably still there — and the
/// outage is logged once, not once per poll; the first successful poll logs the recovery.
/// </para>
/// <para>
/// Concurrency: <see cref="Instances"/> is an immutable list swapped whole (readers never see a half
/// update and need no lock); <see cref="_cacheGate"/> serialises the swaps of the poll loop and
/// <see cref="Remove"/> and guards <see cref="_dropped"/>. The poll loop is owned by this object: started by <see cref="StartAsync"/>,
/// stopped and awaited by <see cref="DisposeAsync"/>.
/// </para>
/// <example>
/// <code>
/// await using var registry = new RegistryClient(registrySettings, clientSettings, logger);
/// await registry.StartAsync();                       // first discovery, then polling
/// IReadOnlyList&lt;InstanceMeta&gt; servers = registry.Instances;
/// </code>
/// </example>
/// </remarks>
public sealed class RegistryClient : IAsyncDisposable
{
    public const string Protocol = "json";

    private readonly ClientSettings _settings;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly Uri _findUri;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _cacheGate = new();

    private readonly TimeProvider _time;
    private readonly TimeSpan _heartbeatTimeout;
    private readonly Dictionary<InstanceKey, DateTimeOffset> _dropped = [];
    private IReadOnlyList<InstanceMeta> _instances = [];

    // A registry that restarted (after a crash or kill -9) answers with an empty list until its servers'
    // next heartbeats re-register them. Taking that answer at face value would empty the cache and fail
    // every call for a heartbeat interval. So an empty answer while servers are cached is believed only
    // once it has lasted the registry's heartbeat_timeout, by which time every live server has
    // re-registered. Guarded by _cacheGate; null while the registry lists something.
    private DateTimeOffset? _emptySince;
    private Task? _pollLoop;
    private int _registryDown;    // 1 during an outage; Interlocked, so an outage is logged once even if two refreshes race
    private int _discovered;      // 1 after the first successful discovery, which is logged in full
    private int _disposed;

    /// <param name="registry">Where the registry is, and its heartbeat timeout (how long an empty answer is doubted).</param>
    /// <param name="settings">Poll interval and registry timeout.</param>
    /// <param name="logger">Where cache changes and outages are logged.</param>
    /// <param name="timeProvider">The clock for polling and for the drop period; tests pass a fake one.</param>
    public RegistryClient(RegistrySettings registry, ClientSettings settings, ILogger<RegistryClient> logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        _heartbeatTimeout = registry.HeartbeatTimeout;
        RegistryUri = registry.BaseUri;
        _findUri = new Uri(RegistryUri, $"myRegistry/findAllInstances?proto={Protocol}");
        // Each request gets its own deadline from a CancellationToken; the client-wide timeout is off
        // so the two never disagree about which one fired.
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>The registry's base address, e.g. <c>http://127.0.0.1:9999/</c>.</summary>
    public Uri RegistryUri { get; }

    /// <summary>The cached healthy instances; a snapshot that never changes after it is handed out.</summary>
    public IReadOnlyList<InstanceMeta> Instances => Volatile.Read(ref _instances);

    /// <summary>True while the last poll failed (the cache is then the last known list).</summary>
    public bool RegistryDown => Volatile.Read(ref _registryDown) != 0;

    /// <summary>
    /// Discovers the instances once, then starts polling. Returning only after the first discovery
    /// means a call made right after start never races an empty cache. A registry that is down is not
    /// fatal: the cache starts empty and the poll loop keeps trying.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_pollLoop is not null)
        {
            throw new InvalidOperationException("the registry client is already started");
        }

        await RefreshAsync(cancellationToken);
        _pollLoop = PollLoopAsync(_stopping.Token);
    }

    /// <summary>
    /// Asks the registry for the instances now and replaces the cache with the answer.
    /// Returns false (cache kept, outage logged once) when the registry cannot be reached.
    /// </summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken = default)
    {
        IReadOnlyList<InstanceMeta> found;
        try
        {
            found = await FindAllInstancesAsync(cancellationToken);
        }
        catch (Exception ex) when ((ex is HttpRequestException or IOException or RegistryTimeoutException or JsonException or FormatException)
                                   && !cancellationToken.IsCancellationRequested)
        {
            if (Interlocked.Exchange(ref _registryDown, 1) == 0)
            {
                _logger.LogWarning(
                    "Registry unreachable at {Registry}: {Reason}; keeping {Count} cached instances and retrying every {Interval} s",
                    RegistryUri, ex.Message, Instances.Count, _settings.PollInterval.TotalSeconds);
            }
            else
            {
                _logger.LogDebug("Registry poll failed: {Reason}", ex.Message);
            }

            ClientMetrics.DiscoveryRefreshed(succeeded: false);
            return false;
        }

        IReadOnlyList<InstanceMeta> previous;
        bool keptThroughEmptyAnswer = false;
        bool firstEmptyAnswer = false;
        lock (_cacheGate)
        {
            found = WithoutDropped(found);
            previous = _instances;
            if (found.Count == 0 && previous.Count > 0)
            {
                DateTimeOffset now = _time.GetUtcNow();
                firstEmptyAnswer = _emptySince is null;
                _emptySince ??= now;
                keptThroughEmptyAnswer = now - _emptySince.Value < _heartbeatTimeout;
            }
            else if (found.Count > 0)
            {
                _emptySince = null;
            }

            if (keptThroughEmptyAnswer)
            {
                found = previous;
            }
            else
            {
                Volatile.Write(ref _instances, found);
            }
        }

        if (keptThroughEmptyAnswer && firstEmptyAnswer)
        {
            _logger.LogWarning(
                "Registry at {Registry} lists no {Protocol} instance; keeping {Count} cached instances for up to {Seconds:0.###} s in case it has just restarted",
                RegistryUri, Protocol, previous.Count, _heartbeatTimeout.TotalSeconds);
        }

        if (Interlocked.Exchange(ref _registryDown, 0) == 1)
        {
            _logger.LogInformation("Registry reachable again at {Registry}; {Count} instances: {Instances}", RegistryUri, found.Count, Describe(found));
        }
        else if (Interlocked.Exchange(ref _discovered, 1) == 0)
        {
            _logger.LogInformation("Discovered {Count} {Protocol} instances at {Registry}: {Instances}", found.Count, Protocol, RegistryUri, found.Count > 0 ? Describe(found) : "none yet");
        }
        else
        {
            LogChanges(previous, found);
        }

        ClientMetrics.DiscoveryRefreshed(succeeded: true);
        return true;
    }

    /// <summary>
    /// Drops an instance from the cache (failover: it refused a connection, or missed a probe). A dead
    /// server stays listed by the registry until its heartbeat times out, so polls keep it out for
    /// <c>unreachable_ban</c>; after that, if the registry still lists it, it comes back. If the registry stops listing it first, the drop is forgotten, so a later
    /// registration of the same address is taken at once.
    /// </summary>
    /// <returns>True when the instance was in the cache.</returns>
    public bool Remove(InstanceMeta instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        lock (_cacheGate)
        {
            // TryAdd: other calls failing on the same server must not keep extending its drop.
            _dropped.TryAdd(instance.Key, _time.GetUtcNow() + _settings.UnreachableBan);
            IReadOnlyList<InstanceMeta> current = _instances;
            InstanceMeta[] remaining = current.Where(candidate => candidate.Key != instance.Key).ToArray();
            if (remaining.Length == current.Count)
            {
                return false;
            }

            Volatile.Write(ref _instances, remaining);
            return true;
        }
    }

    /// <summary>Stops the poll loop, waits for it to end, and closes the HTTP connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        try
        {
            if (_pollLoop is not null)
            {
                await _pollLoop;
            }
        }
        finally
        {
            _http.Dispose();
            _stopping.Dispose();
        }
    }

    // Called under _cacheGate.
    private IReadOnlyList<InstanceMeta> WithoutDropped(IReadOnlyList<InstanceMeta> listed)
    {
        if (_dropped.Count == 0)
        {
            return listed;
        }

        DateTimeOffset now = _time.GetUtcNow();
        var stillListed = listed.Select(instance => instance.Key).ToHashSet();
        foreach ((InstanceKey key, DateTimeOffset until) in _dropped.ToArray())
        {
            if (until <= now || !stillListed.Contains(key))
            {
                _dropped.Remove(key);
            }
        }

        return listed.Where(instance => !_dropped.ContainsKey(instance.Key)).ToArray();
    }

    private async Task PollLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_settings.PollInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                // RefreshAsync handles every registry failure itself; anything else is a bug, but a
                // dead loop would silently freeze the cache forever, so log it and keep polling.
                try
                {
                    await RefreshAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _logger.LogError(ex, "Registry poll failed unexpectedly");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Disposal: the loop's normal end.
        }

        _logger.LogDebug("Registry polling stopped");
    }

    private async Task<IReadOnlyList<InstanceMeta>> FindAllInstancesAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_settings.RegistryTimeout);
        try
        {
            using JsonDocument document = await RegistryHttp.GetJsonAsync(_http, _findUri, deadline.Token);
            return ParseInstances(document.RootElement);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new RegistryTimeoutException(_settings.RegistryTimeout);
        }
    }

    // Only healthy json instances are callable; an entry we cannot read is skipped, not fatal, so
    // one bad registration cannot hide every good server.
    private List<InstanceMeta> ParseInstances(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("the registry's answer is not a JSON array");
        }

        var instances = new List<InstanceMeta>();
        foreach (JsonElement item in root.EnumerateArray())
        {
            try
            {
                InstanceMeta instance = InstanceMeta.Parse(item);
                if (instance.Status && string.Equals(instance.Protocol, Protocol, StringComparison.OrdinalIgnoreCase)
                    && !InstanceMeta.IsWildcardHost(instance.Host))
                {
                    instances.Add(instance);
                }
            }
            catch (FormatException ex)
            {
                _logger.LogWarning("Ignoring an instance the registry listed: {Reason}", ex.Message);
            }
        }

        return instances;
    }

    private void LogChanges(IReadOnlyList<InstanceMeta> previous, IReadOnlyList<InstanceMeta> current)
    {
        var before = previous.Select(instance => instance.Key).ToHashSet();
        var after = current.Select(instance => instance.Key).ToHashSet();
        string added = Describe(current.Where(instance => !before.Contains(instance.Key)));
        string removed = Describe(previous.Where(instance => !after.Contains(instance.Key)));
        if (added.Length > 0 || removed.Length > 0)
        {
            _logger.LogInformation(
                "Server cache updated from {Registry}: {Count} instances ({Instances}); added: {Added}; removed: {Removed}",
                RegistryUri, current.Count, Describe(current), added.Length > 0 ? added : "none", removed.Length > 0 ? removed : "none");
        }
    }

    private static string Describe(IEnumerable<InstanceMeta> instances) =>
        string.Join(", ", instances.Select(instance => instance.Address));

    /// <summary>The registry did not answer within <c>registry_timeout</c>.</summary>
    private sealed class RegistryTimeoutException(TimeSpan timeout)
        : Exception($"no answer within the registry timeout of {timeout.TotalSeconds:0.###} s");
}
