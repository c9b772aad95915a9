using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;

namespace Lab.Server;

/// <summary>Mirrors the server side of the lab's <c>RegistryClient</c>: tells the registry center this server
/// exists. Its one job is the registry entry's lifetime — register on start, heartbeat (re-register)
/// every <c>heartbeat_interval</c>, unregister on a graceful stop. The built-in backend of
/// <see cref="IServiceRegistration"/>; etcd's is <c>EtcdRegistration</c>.</summary>
/// <remarks><para>
/// Defects of the original fixed here (lab requirements §11): every HTTP request has a timeout
/// (<c>registry_timeout</c>); the heartbeat loop (<see cref="HeartbeatLoopAsync"/>) logs an outage once and
/// retries with a capped backoff instead of dying or spinning; it is a task this class owns and stops
/// before unregistering, so no heartbeat can re-register the server after it said goodbye (the
/// original did exactly that).</para>
/// <para>A heartbeat is a plain re-registration, so a registry restarted with an empty list gets the entry
/// back at the next heartbeat without any special case.</para>
/// <para>Concurrency: <see cref="StartAsync"/> once, then <see cref="StopAsync"/> once; the loop is the only other thread.</para>
/// <example><code>
/// var registry = new RegistryClient(registrySettings, serverSettings, logger);
/// await registry.StartAsync(new InstanceMeta { Host = "127.0.0.1", Port = 8089 });   // heartbeats in the background
/// await registry.StopAsync();                                                         // no more heartbeats, then unregister
/// </code></example></remarks>
public sealed class RegistryClient : IServiceRegistration
{
    // A register answer is the instance echoed back (well under 2 KiB with the registry's max_parameters_size).
    private const int MaxAnswerSize = 64 * 1024;

    private readonly ServerSettings _settings;
    private readonly ILogger<RegistryClient> _logger;
    private readonly TimeProvider _time;
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stopHeartbeats = new();
    private InstanceMeta? _instance;
    private Task _heartbeatLoop = Task.CompletedTask;

    /// <param name="timeProvider">The clock of the heartbeat interval and the retry backoff; tests pass a fake one.</param>
    public RegistryClient(RegistrySettings registry, ServerSettings settings, ILogger<RegistryClient> logger, TimeProvider? timeProvider = null)
    {
        _settings = settings;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        RegistryAddress = $"http://{HostAddress.Format(registry.Host, registry.Port)}";
        // Timeout.Infinite here: each request gets its own registry_timeout through a CancellationToken,
        // which also lets a stop cancel a request in flight. The connect timeout bounds a dead host.
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = settings.RegistryTimeout })
        {
            BaseAddress = registry.BaseUri,
            Timeout = Timeout.InfiniteTimeSpan,
            // The answer echoes the instance; anything far larger is not the registry talking, and must not fill memory.
            MaxResponseContentBufferSize = MaxAnswerSize,
        };
        // The registry's shared token: without it, register and unregister are refused (401).
        if (registry.Token.Length > 0)
            _http.DefaultRequestHeaders.Authorization = new("Bearer", registry.Token);
    }

    /// <inheritdoc/>
    public string RegistryAddress { get; }

    /// <summary>Starts the heartbeat loop for <paramref name="instance"/>; the first registration is immediate.</summary>
    public Task StartAsync(InstanceMeta instance, CancellationToken cancellationToken = default)
    {
        if (_instance is not null)
            throw new InvalidOperationException("the registry client is already started");
        _instance = instance;
        _heartbeatLoop = HeartbeatLoopAsync(instance, _stopHeartbeats.Token);
        return Task.CompletedTask;
    }

    /// <summary>Stops the heartbeats (awaiting the loop, so none can follow), then unregisters, waiting at most
    /// registry_timeout. Never throws: a registry that is down cannot stop the server from stopping.</summary>
    /// <returns>True if the registry confirmed the unregistration.</returns>
    public async Task<bool> StopAsync(CancellationToken cancellationToken = default)
    {
        if (_instance is null || _stopHeartbeats.IsCancellationRequested)
            return false;

        await _stopHeartbeats.CancelAsync().ConfigureAwait(false);
        await _heartbeatLoop.ConfigureAwait(false);
        try
        {
            await SendAsync("myRegistry/unregister", _instance, cancellationToken).ConfigureAwait(false);
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
            await _stopHeartbeats.CancelAsync().ConfigureAwait(false);
        await _heartbeatLoop.ConfigureAwait(false);
        _http.Dispose();
        _stopHeartbeats.Dispose();
    }

    // The heartbeat loop: register at once, then re-register every heartbeat_interval. A failure of any
    // kind is an outage, never the end of the loop — recovering is its whole point (the original lab's
    // heartbeat died on the first error). An outage is logged once, not once per attempt, and retried
    // with a capped backoff: quick retries first, then one per interval, never a spin. Only the stop
    // ends it; StartAsync stores the task and StopAsync awaits it.
    private async Task HeartbeatLoopAsync(InstanceMeta instance, CancellationToken stoppingToken)
    {
        // Yield first: StartAsync returns at once, the loop runs in the background.
        await Task.Yield();
        // Created before the first registration, so the ticks keep their rhythm from the start whatever a
        // request costs (and a test's fake clock can move on as soon as it sees the registration).
        using var timer = new PeriodicTimer(_settings.HeartbeatInterval, _time);
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
                    await SendAsync("myRegistry/register", instance, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // Any exception, not only network ones: a loop that gives up for good (even on a bug,
                    // or a process briefly out of file descriptors) leaves a server nobody finds.
                    if (!inOutage)
                        LogOutage(ex);
                    else
                        _logger.LogDebug(ex is HttpRequestException { StatusCode: not null } ? "Registry still refuses this server: {Reason}" : "Registry still unreachable: {Reason}", ex.Message);
                    inOutage = true;

                    await Task.Delay(retryDelay, _time, stoppingToken).ConfigureAwait(false);
                    retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, _settings.HeartbeatInterval.Ticks));
                    continue;
                }

                if (inOutage)
                    _logger.LogInformation("Registry reachable again; registered as {Instance}", instance);
                else if (!registeredOnce)
                    _logger.LogInformation("Registered with registry at {Registry} as {Instance}", RegistryAddress, instance);
                else
                    _logger.LogDebug("Heartbeat sent to {Registry}", RegistryAddress);

                (registeredOnce, inOutage, retryDelay) = (true, false, firstRetry);
                await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped: the only way out.
        }
    }

    // The first failure of an outage, said once. A registry that answers and refuses is not "unreachable":
    // the operator has something to fix, and the line says what; the loop keeps trying either way, so the
    // server registers as soon as it is fixed (a registry restarted with the right token, room made).
    private void LogOutage(Exception ex)
    {
        switch ((ex as HttpRequestException)?.StatusCode)
        {
            case System.Net.HttpStatusCode.Unauthorized:
                _logger.LogError("The registry at {Registry} refused this server (401): its [registry] token and this server's differ ({Reason}); set the same token in both config.ini files. Serving anyway and retrying",
                    RegistryAddress, ex.Message);
                break;
            case { } status when (int)status is >= 400 and < 500:
                _logger.LogError("The registry at {Registry} refused this server's registration ({Reason}); serving anyway and retrying", RegistryAddress, ex.Message);
                break;
            case System.Net.HttpStatusCode.ServiceUnavailable:
                _logger.LogWarning("The registry at {Registry} cannot take this server now ({Reason}); serving anyway and retrying", RegistryAddress, ex.Message);
                break;
            default:
                _logger.LogInformation("Registry unreachable at {Registry}: {Reason}; serving anyway and retrying", RegistryAddress, ex.Message);
                break;
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
            throw new TimeoutException($"no answer from {RegistryAddress}/{path} within {_settings.RegistryTimeout.TotalSeconds:0.###} s");
        }
    }
}
