using System.Runtime.InteropServices;
using System.Text.Json;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;

namespace Lab.Client;

/// <summary>Mirrors the lab's client-side <c>RegistryClient</c>: finds the <c>json</c> servers through the
/// registry center, keeps them in a local <see cref="InstanceCache"/>, and refreshes it every
/// <c>poll_interval</c> (lab requirements §6). The built-in backend of <see cref="IServiceDiscovery"/>; etcd's is
/// <c>EtcdDiscovery</c>.</summary>
/// <remarks><para>
/// Talks to the registry's <c>GET /myRegistry/findAllInstances?proto=json</c> (lab requirements §4). Every request
/// has its own <c>registry_timeout</c> (the original had none, so a hung registry hung the client).
/// When the registry is down the cache is kept and the outage logged once; the first good poll logs
/// the recovery.</para>
/// <para>Concurrency: the cache may be read and changed from any thread. The poll loop is owned by this
/// object: started by <see cref="StartAsync"/>, stopped and awaited by <see cref="StopAsync"/>.</para>
/// <example><code>
/// await using var registry = new RegistryClient(registrySettings, clientSettings, logger);
/// await registry.StartAsync();                       // first discovery, then polling
/// IReadOnlyList&lt;InstanceMeta&gt; servers = registry.Instances;
/// </code></example></remarks>
public sealed class RegistryClient : IServiceDiscovery
{
    private readonly ClientSettings _settings;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly HttpClient _http;
    private readonly Uri _findUri;
    private readonly InstanceCache _cache;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _pollLoop;
    private int _disposed;
    private int _skippedLastPoll;   // entries the last answer held that could not be read (polls may overlap a refresh)

    /// <param name="registry">Where the registry is, and its heartbeat timeout (how long an empty answer is doubted).</param>
    /// <param name="settings">Poll interval, registry timeout, and how long a failed server stays out (unreachable_ban).</param>
    /// <param name="logger">Where cache changes and outages are logged.</param>
    /// <param name="timeProvider">The clock for polling and for the drop period; tests pass a fake one.</param>
    public RegistryClient(RegistrySettings registry, ClientSettings settings, ILogger<RegistryClient> logger, TimeProvider? timeProvider = null)
    {
        _settings = settings;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        RegistryAddress = registry.BaseUri.ToString().TrimEnd('/');
        _findUri = new Uri(registry.BaseUri, $"myRegistry/findAllInstances?proto={InstanceMeta.JsonProtocol}");
        _cache = new InstanceCache(RegistryAddress, registry.HeartbeatTimeout, settings.UnreachableBan, logger, _time);
        // Each request gets its own deadline from a CancellationToken; the client-wide timeout is off
        // so the two never disagree about which one fired.
        // The answer's size is bounded too: a registry (or anything at its address) streaming an endless body
        // must cost a failed poll, not the client's memory.
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
            MaxResponseContentBufferSize = settings.MaxRegistryResponseSize,
        };
    }

    /// <inheritdoc/>
    public string RegistryAddress { get; }

    /// <inheritdoc/>
    public IReadOnlyList<InstanceMeta> Instances => _cache.Instances;

    /// <inheritdoc/>
    public bool RegistryDown => _cache.RegistryDown;

    /// <summary>Discovers the instances once, then starts polling. Returning only after the first discovery
    /// means a call made right after start never races an empty cache. A registry that is down is not
    /// fatal: the cache starts empty and the poll loop keeps trying.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_pollLoop is not null)
            throw new InvalidOperationException("the registry client is already started");

        await RefreshAsync(cancellationToken);
        _pollLoop = PollLoopAsync(_stopping.Token);
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!_stopping.IsCancellationRequested)
            await _stopping.CancelAsync();
        if (_pollLoop is not null)
            await _pollLoop.WaitAsync(cancellationToken);
    }

    /// <summary>Asks the registry for the instances now and replaces the cache with the answer.
    /// Returns false (cache kept, outage logged once) when the registry cannot be reached.</summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            _cache.Replace(await FindAllInstancesAsync(cancellationToken));
            ClientMetrics.DiscoveryRefreshed(succeeded: true);
            return true;
        }
        catch (Exception ex) when ((ex is HttpRequestException or IOException or TimeoutException or JsonException or FormatException)
                                   && !cancellationToken.IsCancellationRequested)
        {
            if (!_cache.ReportOutage(ex.Message, _settings.PollInterval))
                _logger.LogDebug("Registry poll failed: {Reason}", ex.Message);
            ClientMetrics.DiscoveryRefreshed(succeeded: false);
            return false;
        }
    }

    /// <inheritdoc/>
    public bool Remove(InstanceMeta instance) => _cache.Remove(instance);

    /// <summary>Stops the poll loop, waits for it to end, and closes the HTTP connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        try
        {
            await StopAsync();
        }
        finally
        {
            _http.Dispose();
            _stopping.Dispose();
        }
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
            // Stopped: the loop's normal end.
        }

        _logger.LogDebug("Registry polling stopped");
    }

    private async Task<List<InstanceMeta>> FindAllInstancesAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_settings.RegistryTimeout);
        try
        {
            using JsonDocument document = await RegistryHttp.GetJsonAsync(_http, _findUri, deadline.Token);
            if (document.RootElement.ValueKind != JsonValueKind.Array)
                throw new FormatException("the registry's answer is not a JSON array");

            // An entry we cannot read is skipped, not fatal, so one bad registration cannot hide every good server.
            var instances = new List<InstanceMeta>();
            var skipped = new List<string>();
            foreach (JsonElement item in document.RootElement.EnumerateArray())
            {
                try
                {
                    instances.Add(InstanceMeta.Parse(JsonMarshal.GetRawUtf8Value(item).ToArray()));
                }
                catch (FormatException ex)
                {
                    skipped.Add(ex.Message);
                }
            }

            // Once per change, not at every poll: the same bad entries come back every poll_interval.
            if (skipped.Count > 0 && Interlocked.Exchange(ref _skippedLastPoll, skipped.Count) != skipped.Count)
                _logger.LogWarning("Ignoring {Count} instance(s) the registry listed that cannot be read; the first: {Reason}", skipped.Count, skipped[0]);
            else if (skipped.Count == 0)
                Interlocked.Exchange(ref _skippedLastPoll, 0);
            return instances;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer within the registry timeout of {_settings.RegistryTimeout.TotalSeconds:0.###} s");
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.ConfigurationLimitExceeded)
        {
            throw new HttpRequestException($"the registry's answer is larger than max_registry_response_size ({_settings.MaxRegistryResponseSize} bytes)", ex);
        }
    }
}
