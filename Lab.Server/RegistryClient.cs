using Lab.Protocol;
using Lab.Protocol.Configuration;
using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;

namespace Lab.Server;

/// <summary>
/// Mirrors the server side of the lab's <c>RegistryClient</c>: tells the registry center this server
/// exists. Its one job is the registry entry's lifetime — register on start, heartbeat (re-register)
/// every <c>heartbeat_interval</c>, unregister on a graceful stop.
/// </summary>
/// <remarks>
/// <para>
/// Defects of the original fixed here (lab requirements §11): every HTTP request has a timeout
/// (<c>registry_timeout</c>); a registry outage is logged once, not once per attempt, and retried
/// with a capped backoff instead of a loop that spins without pause; the heartbeat loop is a task
/// this class owns and stops before unregistering, so no heartbeat can re-register the server after
/// it said goodbye (the original did exactly that).
/// </para>
/// <para>
/// A heartbeat is a plain re-registration, so a registry restarted with an empty list gets the entry
/// back at the next heartbeat without any special case.
/// </para>
/// <para>Concurrency: <see cref="Start"/> once, then <see cref="StopAsync"/> once; the loop is the only other thread.</para>
/// <example>
/// <code>
/// var registry = new RegistryClient(registrySettings, serverSettings, logger);
/// registry.Start(new InstanceMeta { Host = "127.0.0.1", Port = 8089 });   // heartbeats in the background
/// await registry.StopAsync();                                              // no more heartbeats, then unregister
/// </code>
/// </example>
/// </remarks>
public sealed class RegistryClient : IAsyncDisposable
{
    private const string RegisterPath = "myRegistry/register";
    private const string UnregisterPath = "myRegistry/unregister";

    private readonly ServerSettings _settings;
    private readonly ILogger<RegistryClient> _logger;
    private readonly HttpClient _http;
    private readonly string _registryUrl;
    private readonly CancellationTokenSource _stopHeartbeats = new();
    private InstanceMeta? _instance;
    private Task? _heartbeatLoop;

    public RegistryClient(RegistrySettings registry, ServerSettings settings, ILogger<RegistryClient> logger)
    {
        ArgumentNullException.ThrowIfNull(registry);
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _registryUrl = $"http://{InstanceMeta.FormatAddress(registry.Host, registry.Port)}";
        // Timeout.Infinite here: each request gets its own registry_timeout through a CancellationToken,
        // which also lets a stop cancel a request in flight. The connect timeout bounds a dead host.
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = settings.RegistryTimeout })
        {
            BaseAddress = registry.BaseUri,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (registry.Token.Length > 0)
        {
            // The registry's shared token: without it, register and unregister are refused (401).
            _http.DefaultRequestHeaders.Authorization = new("Bearer", registry.Token);
        }
    }

    /// <summary>The registry's address as logs show it: <c>http://127.0.0.1:9999</c>.</summary>
    public string RegistryUrl => _registryUrl;

    /// <summary>True while the heartbeat loop runs.</summary>
    public bool IsHeartbeating => _heartbeatLoop is { IsCompleted: false };

    /// <summary>Starts the heartbeat loop for <paramref name="instance"/>; the first registration is immediate.</summary>
    public void Start(InstanceMeta instance)
    {
        if (_instance is not null)
        {
            throw new InvalidOperationException("the registry client is already started");
        }

        _instance = instance ?? throw new ArgumentNullException(nameof(instance));
        _heartbeatLoop = HeartbeatLoopAsync(instance, _stopHeartbeats.Token);
    }

    /// <summary>
    /// Stops the heartbeats (awaiting the loop, so none can follow), then unregisters, waiting at most
    /// registry_timeout. Never throws: a registry that is down cannot stop the server from stopping.
    /// </summary>
    /// <returns>True if the registry confirmed the unregistration.</returns>
    public async Task<bool> StopAsync(CancellationToken cancellationToken = default)
    {
        if (_instance is null || _stopHeartbeats.IsCancellationRequested)
        {
            return false;
        }

        await _stopHeartbeats.CancelAsync().ConfigureAwait(false);
        await _heartbeatLoop!.ConfigureAwait(false);
        try
        {
            await SendAsync(UnregisterPath, _instance, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Unregistered from registry");
            return true;
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException or OperationCanceledException)
        {
            _logger.LogInformation("Could not unregister from registry: {Reason}", ex.Message);
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopHeartbeats.IsCancellationRequested)
        {
            await _stopHeartbeats.CancelAsync().ConfigureAwait(false);
        }

        if (_heartbeatLoop is not null)
        {
            await _heartbeatLoop.ConfigureAwait(false);
        }

        _http.Dispose();
        _stopHeartbeats.Dispose();
    }

    private async Task HeartbeatLoopAsync(InstanceMeta instance, CancellationToken stoppingToken)
    {
        // Yield first: Start returns at once, the loop runs in the background.
        await Task.Yield();
        using var timer = new PeriodicTimer(_settings.HeartbeatInterval);
        bool registeredOnce = false;
        bool inOutage = false;
        TimeSpan firstRetry = _settings.HeartbeatInterval / 4;
        TimeSpan retryDelay = firstRetry;
        try
        {
            while (true)
            {
                try
                {
                    // The heartbeat carries this server's call counters to the registry's dashboard.
                    ServerMetrics.StampHeartbeat(instance.Parameters);
                    await SendAsync(RegisterPath, instance, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // Any exception, not only HTTP ones: a heartbeat that gives up for good (even on a
                    // bug, or a process briefly out of file descriptors) leaves a server nobody finds.
                    // Once per outage, not once per attempt: a down registry must not flood the log.
                    if (!inOutage)
                    {
                        _logger.LogInformation("Registry unreachable at {Registry}: {Reason}; serving anyway and retrying", _registryUrl, ex.Message);
                        inOutage = true;
                    }
                    else
                    {
                        _logger.LogDebug("Registry still unreachable: {Reason}", ex.Message);
                    }

                    // Capped backoff: quick retries at first, then one per heartbeat interval — never a spin.
                    await Task.Delay(retryDelay, stoppingToken).ConfigureAwait(false);
                    retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, _settings.HeartbeatInterval.Ticks));
                    continue;
                }

                if (inOutage)
                {
                    _logger.LogInformation("Registry reachable again; registered as {Instance}", instance);
                }
                else if (!registeredOnce)
                {
                    _logger.LogInformation("Registered with registry at {Registry} as {Instance}", _registryUrl, instance);
                }
                else
                {
                    _logger.LogDebug("Heartbeat sent to {Registry}", _registryUrl);
                }

                (registeredOnce, inOutage, retryDelay) = (true, false, firstRetry);
                await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped: the only way out of the loop.
        }
    }

    /// <exception cref="TimeoutException">The registry did not answer within registry_timeout.</exception>
    /// <exception cref="HttpRequestException">The registry could not be reached or answered an error status.</exception>
    private async Task SendAsync(string path, InstanceMeta instance, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_settings.RegistryTimeout);
        try
        {
            await RegistryHttp.PostAsync(_http, new Uri(path, UriKind.Relative), instance, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer from {_registryUrl}/{path} within {_settings.RegistryTimeout.TotalSeconds:0.###} s");
        }
    }
}
