using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Lab.Protocol.Configuration;
using Lab.Protocol.Discovery;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lab.Server;

/// <summary>
/// Mirrors the lab's <c>RPCServer</c>: puts <see cref="ServerStub"/> (the methods),
/// <see cref="TcpServer"/> (the sockets) and <see cref="RegistryClient"/> (the registry entry)
/// together, and owns their lifetime. It is a hosted service, so the Generic Host starts it and
/// stops it gracefully on Ctrl+C or SIGTERM.
/// </summary>
/// <remarks>
/// <para>
/// Start: bind the listener first — so a port in use fails before anything is registered — then
/// print the readiness line, then start heartbeating.
/// Stop: stop accepting, and at the same time unregister (bounded by registry_timeout; the entry is
/// gone at once, no waiting for eviction) and drain in-flight calls (bounded by drain_timeout); idle
/// connections close immediately. The original hung here when a client sat idle or when bound to a
/// non-loopback address; nothing here waits without a deadline.
/// </para>
/// <para>Concurrency: the host calls <see cref="StartAsync"/> once, then <see cref="StopAsync"/>.</para>
/// <example>
/// <code>
/// await using var server = new RpcServer(serverSettings, registrySettings, loggerFactory);
/// await server.StartAsync(token);        // "Server listening on 127.0.0.1:8089"
/// await server.StopAsync(token);         // "Unregistered from registry" ... "Server stopped"
/// </code>
/// </example>
/// </remarks>
public sealed class RpcServer : IHostedService, IAsyncDisposable
{
    private readonly ServerSettings _settings;
    private readonly ILogger<RpcServer> _logger;
    private readonly TcpServer _tcp;
    private readonly RegistryClient _registry;
    private readonly IHostApplicationLifetime? _lifetime;
    private CancellationTokenRegistration _listenerFailure;
    private bool _started;
    private bool _stopped;

    /// <summary>A server offering every <see cref="DemoMethods">demo method</see> (the lab's default).</summary>
    /// <remarks><c>lifetime</c>: the host to stop when the server fails while running (a passive shutdown); null outside a host.</remarks>
    public RpcServer(ServerSettings settings, RegistrySettings registry, ILoggerFactory loggerFactory, IHostApplicationLifetime? lifetime = null)
        : this(settings, registry, CreateDemoStub(settings, loggerFactory), loggerFactory, lifetime)
    {
    }

    public RpcServer(ServerSettings settings, RegistrySettings registry, ServerStub stub, ILoggerFactory loggerFactory, IHostApplicationLifetime? lifetime = null)
    {
        _lifetime = lifetime;
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _logger = loggerFactory.CreateLogger<RpcServer>();
        _tcp = new TcpServer(stub, settings with { MaxConnections = CapConnections(settings.MaxConnections, _logger) }, loggerFactory);
        _registry = new RegistryClient(registry, settings, loggerFactory.CreateLogger<RegistryClient>());
    }

    /// <summary>The bound address and real port (after start).</summary>
    public IPEndPoint LocalEndPoint => _tcp.LocalEndPoint;

    /// <summary>What is registered with the registry (after start).</summary>
    public InstanceMeta? Instance { get; private set; }

    /// <summary>Connections currently open.</summary>
    public int ConnectionCount => _tcp.ConnectionCount;

    /// <summary>True when the server stopped itself because of a fault (the program then exits non-zero).</summary>
    public bool Faulted { get; private set; }

    internal TcpServer Tcp => _tcp;

    /// <summary>Binds, prints the readiness line, starts heartbeating. Returns once the server accepts connections.</summary>
    /// <exception cref="ServerStartException">The listen address is invalid or the port is in use; nothing was registered.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_started)
        {
            throw new InvalidOperationException("the server is already started");
        }

        _tcp.Start();
        _started = true;
        IPEndPoint bound = _tcp.LocalEndPoint;
        _logger.LogInformation("Server listening on {Address}", InstanceMeta.FormatAddress(bound.Address.ToString(), bound.Port));
        Instance = new InstanceMeta { Protocol = "json", Host = ChooseAdvertisedHost(_settings.AdvertiseHost, bound.Address), Port = bound.Port };
        _registry.Start(Instance);
        // Passive shutdown (lab requirements §1): a server that can no longer accept must leave the registry and stop.
        _listenerFailure = _tcp.ListenerFailed.Register(() =>
        {
            Faulted = true;
            _logger.LogCritical("Stopping the server: it can no longer accept connections");
            _lifetime?.StopApplication();
        });
        return Task.CompletedTask;
    }

    /// <summary>Graceful stop; see the class remarks. Safe to call twice, or without a start.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!_started || _stopped)
        {
            return;
        }

        _stopped = true;
        _logger.LogInformation("Stopping: no new connections; draining calls in progress (up to {Seconds:0.###} s)", _settings.DrainTimeout.TotalSeconds);
        Task draining = _tcp.StopAsync();
        Task unregistering = _registry.StopAsync(cancellationToken);
        await Task.WhenAll(draining, unregistering).ConfigureAwait(false);
        _logger.LogInformation("Server stopped");
    }

    public async ValueTask DisposeAsync()
    {
        await _listenerFailure.DisposeAsync().ConfigureAwait(false);
        await StopAsync().ConfigureAwait(false);
        await _tcp.DisposeAsync().ConfigureAwait(false);
        await _registry.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>A stub with every demo method registered, under the configured method timeout.</summary>
    public static ServerStub CreateDemoStub(ServerSettings settings, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var stub = new ServerStub(settings.MethodTimeout, loggerFactory.CreateLogger<ServerStub>(), settings.MaxConcurrentCalls);
        new DemoMethods().RegisterAll(stub);
        return stub;
    }

    // max_connections, lowered to what the descriptor limit (soft RLIMIT_NOFILE, from /proc on Linux)
    // can hold. 256 stay free for the runtime: it opens files while running (assemblies, HTTP sockets to
    // the registry), and without them it fails hard ("Out of memory.", exit 134) instead of refusing.
    private static int CapConnections(int configured, ILogger logger)
    {
        const string limits = "/proc/self/limits";
        string? line = File.Exists(limits) ? File.ReadLines(limits).FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal)) : null;
        if (line?.Split(' ', StringSplitOptions.RemoveEmptyEntries) is not [_, _, _, var soft, ..] || !int.TryParse(soft, out int limit) || configured <= limit - 256)
        {
            return configured;
        }

        logger.LogWarning("max_connections lowered from {Configured} to {Max}: the process may open only {Limit} files (ulimit -n)", configured, Math.Max(1, limit - 256), limit);
        return Math.Max(1, limit - 256);
    }

    /// <summary>
    /// The host clients should dial. A wildcard listen address (0.0.0.0, ::) cannot be dialled, so we
    /// register advertise_host if set, else this machine's first address of an interface that is up.
    /// </summary>
    public static string ChooseAdvertisedHost(string advertiseHost, IPAddress bound)
    {
        ArgumentNullException.ThrowIfNull(bound);
        if (!string.IsNullOrWhiteSpace(advertiseHost))
        {
            return advertiseHost.Trim();
        }

        if (!bound.Equals(IPAddress.Any) && !bound.Equals(IPAddress.IPv6Any))
        {
            return bound.ToString();
        }

        IPAddress[] candidates = [.. NetworkInterface.GetAllNetworkInterfaces()
            .Where(nic => nic.OperationalStatus == OperationalStatus.Up && nic.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(nic => nic.GetIPProperties().UnicastAddresses)
            .Select(unicast => unicast.Address)
            .Where(address => !IPAddress.IsLoopback(address) && !address.IsIPv6LinkLocal)];
        IPAddress? choice = candidates.FirstOrDefault(address => address.AddressFamily == AddressFamily.InterNetwork)
                            ?? (bound.AddressFamily == AddressFamily.InterNetworkV6 ? candidates.FirstOrDefault() : null);
        // No network at all: loopback is the only address that works (clients on this machine).
        return (choice ?? (bound.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback)).ToString();
    }
}
