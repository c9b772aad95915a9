using System.Net;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Lab.Server.Demo;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lab.Server;

/// <summary>Mirrors the lab's <c>RPCServer</c>: puts <see cref="ServerStub"/> (the methods),
/// <see cref="TcpServer"/> (the sockets) and <see cref="RegistryClient"/> (the registry entry)
/// together, and owns their lifetime. It is a hosted service, so the Generic Host starts it and
/// stops it gracefully on Ctrl+C or SIGTERM.</summary>
/// <remarks><para>
/// Start: bind the listener first — so a port in use fails before anything is registered — then
/// print the readiness line, then start heartbeating.
/// Stop: stop accepting, and at the same time unregister (bounded by registry_timeout; the entry is
/// gone at once, no waiting for eviction) and drain in-flight calls (bounded by drain_timeout); idle
/// connections close immediately. The original hung here when a client sat idle or when bound to a
/// non-loopback address; nothing here waits without a deadline.</para>
/// <para>Concurrency: the host calls <see cref="StartAsync"/> once, then <see cref="StopAsync"/>.</para>
/// <example><code>
/// await using var server = new RpcServer(serverSettings, registrySettings, loggerFactory);
/// await server.StartAsync(token);        // "Server listening on 127.0.0.1:8089"
/// await server.StopAsync(token);         // "Unregistered from registry" ... "Server stopped"
/// </code></example></remarks>
public sealed class RpcServer : IHostedService, IAsyncDisposable
{
    private readonly ServerSettings _settings;
    private readonly ILogger<RpcServer> _logger;
    private readonly TcpServer _tcp;
    private readonly IServiceRegistration _registry;
    private readonly IHostApplicationLifetime? _lifetime;
    private CancellationTokenRegistration _listenerFailure;
    private bool _started;
    private bool _stopped;

    /// <summary>A server offering every <see cref="DemoMethods">demo method</see> (the lab's default), registered
    /// with the lab's registry center by the built-in <see cref="RegistryClient"/>.</summary>
    /// <param name="lifetime">The host to stop when the server fails while running (a passive shutdown); null outside a host.</param>
    public RpcServer(ServerSettings settings, RegistrySettings registry, ILoggerFactory loggerFactory, IHostApplicationLifetime? lifetime = null)
        : this(settings, new RegistryClient(registry, settings, loggerFactory.CreateLogger<RegistryClient>()), loggerFactory, lifetime)
    {
    }

    /// <summary>A server offering every demo method, kept registered by <paramref name="registration"/>, whichever
    /// backend it is (the program chooses: the built-in registry, or etcd). The server owns it from here.</summary>
    /// <param name="lifetime">The host to stop when the server fails while running (a passive shutdown); null outside a host.</param>
    public RpcServer(ServerSettings settings, IServiceRegistration registration, ILoggerFactory loggerFactory, IHostApplicationLifetime? lifetime = null)
    {
        _settings = settings;
        _lifetime = lifetime;
        _logger = loggerFactory.CreateLogger<RpcServer>();
        var stub = new ServerStub(settings.MethodTimeout, loggerFactory.CreateLogger<ServerStub>(), settings.MaxConcurrentCalls);
        new DemoMethods().RegisterAll(stub);
        _tcp = new TcpServer(stub, settings with { MaxConnections = DescriptorLimit.CapConnections(settings.MaxConnections, _logger) }, loggerFactory);
        _registry = registration;
    }

    /// <summary>The bound address and real port (after start).</summary>
    public IPEndPoint LocalEndPoint => _tcp.LocalEndPoint;

    /// <summary>True when the server stopped itself because of a fault (the program then exits non-zero).</summary>
    public bool Faulted { get; private set; }

    /// <summary>Binds, prints the readiness line, starts heartbeating. Returns once the server accepts connections.</summary>
    /// <exception cref="ServerStartException">The listen address is invalid or the port is in use; nothing was registered.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        _tcp.Start();
        _started = true;
        IPEndPoint bound = _tcp.LocalEndPoint;
        _logger.LogInformation("Server listening on {Address}", HostAddress.Format(bound.Address.ToString(), bound.Port));
        var instance = new InstanceMeta { Host = HostAddress.ChooseAdvertised(_settings.AdvertiseHost, bound.Address), Port = bound.Port };
        // Passive shutdown (lab requirements §1): a server that can no longer accept must leave the registry and stop.
        _listenerFailure = _tcp.ListenerFailed.Register(() =>
        {
            Faulted = true;
            _logger.LogCritical("Stopping the server: it can no longer accept connections");
            _lifetime?.StopApplication();
        });
        return _registry.StartAsync(instance, cancellationToken);
    }

    /// <summary>Graceful stop; see the class remarks. Safe to call twice, or without a start.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!_started || _stopped)
            return;
        _stopped = true;
        _logger.LogInformation("Stopping: no new connections; draining calls in progress (up to {Seconds:0.###} s)", _settings.DrainTimeout.TotalSeconds);
        await Task.WhenAll(_tcp.StopAsync(), _registry.StopAsync(cancellationToken)).ConfigureAwait(false);
        _logger.LogInformation("Server stopped");
    }

    public async ValueTask DisposeAsync()
    {
        await _listenerFailure.DisposeAsync().ConfigureAwait(false);
        await StopAsync().ConfigureAwait(false);
        await _tcp.DisposeAsync().ConfigureAwait(false);
        await _registry.DisposeAsync().ConfigureAwait(false);
    }
}
