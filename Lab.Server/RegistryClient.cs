using Lab.Protocol.Configuration;
using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;

namespace Lab.Server;

/// <summary>Mirrors the server side of the lab's <c>RegistryClient</c>: tells the registry center this server
/// exists. Its one job is the registry entry's lifetime — register on start, heartbeat (re-register)
/// every <c>heartbeat_interval</c>, unregister on a graceful stop. The built-in backend of
/// <see cref="IServiceRegistration"/>; etcd's is <c>EtcdRegistration</c>.</summary>
/// <remarks><para>
/// Defects of the original fixed here (lab requirements §11): every HTTP request has a timeout
/// (<c>registry_timeout</c>); the heartbeat loop (<see cref="KeepAliveLoop"/>) logs an outage once and
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
        _heartbeatLoop = KeepAliveLoop.RunAsync(token =>
        {
            // The heartbeat carries this server's call counters to the registry's dashboard.
            ServerMetrics.StampHeartbeat(instance.Parameters);
            return SendAsync("myRegistry/register", instance, token);
        }, instance, RegistryAddress, _settings.HeartbeatInterval, _time, _logger, _stopHeartbeats.Token);
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
