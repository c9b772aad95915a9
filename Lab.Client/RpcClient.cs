using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Lab.Client.Transport;
using Lab.Protocol;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Lab.Protocol.Messages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lab.Client;

/// <summary>Mirrors the lab's <c>RPCClient</c>: makes remote calls feel local (lab requirements §6). It puts together
/// <see cref="RegistryClient"/> (where the servers are), <see cref="LoadBalance"/> (which one to use)
/// and the transport (<see cref="ConnectionPool"/> of <see cref="ServerConnection"/>s per server).</summary>
/// <remarks><para>
/// Two modes: <see cref="Direct">direct</see> to one server, or <see cref="ConnectToRegistryAsync">through
/// the registry</see>. In registry mode a server that fails before the request was sent (refused the
/// connection, broke while we wrote) is dropped from the cache and the call moves on to another
/// instance; a request that was sent is not sent again unless the call is marked
/// <see cref="RpcCallOptions.Idempotent"/>, because the first server may already have run it. One call
/// tries at most <c>max_attempts</c> servers and ends by <c>call_deadline</c>, whatever the servers do.</para>
/// <para>Concurrency: every call member may be used by any number of callers at once; each call gets a
/// connection of its own from the pool. <see cref="DisposeAsync"/> stops the registry poll loop and
/// closes every socket, including those of calls still running (they fail with a transport error).</para>
/// <example><code>
/// await using RpcClient client = RpcClient.Direct("127.0.0.1", 8089, new ClientSettings());
/// long sum = await client.CallAsync&lt;long&gt;("add", [1, 2]);           // 13
/// dynamic lab = client.AsDynamic(); string text = lab.hi("bob");       // "hi bob, welcome"
/// </code></example></remarks>
public sealed class RpcClient : IAsyncDisposable, IDisposable
{
    private readonly ClientSettings _settings;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly IServiceDiscovery? _registry;
    private readonly IReadOnlyList<InstanceMeta> _directServer;
    private readonly LoadBalance _loadBalance;
    private readonly ServerHealth _health;
    private readonly ConcurrentDictionary<InstanceKey, ConnectionPool> _pools = new();
    private readonly ConcurrentDictionary<string, IReadOnlySet<string>> _methodsByServer = new(StringComparer.OrdinalIgnoreCase);
    private int _disposed;

    private RpcClient(ClientSettings settings, ILoggerFactory? loggerFactory, IServiceDiscovery? registry, InstanceMeta? directServer, LoadBalance? loadBalance)
    {
        _settings = settings;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<RpcClient>();
        _registry = registry;
        _directServer = directServer is null ? [] : [directServer];
        _loadBalance = loadBalance ?? new LoadBalance(settings.LoadBalance);
        // A result, an error reply (RpcRemoteException) or an unreadable result is an answer: the server is
        // alive. A ServerBusy reply is not counted, so a server refusing every call as busy looks silent
        // until its probe (all_your_methods, which needs no method slot) is answered.
        _health = new ServerHealth(settings, TimeProvider.System, _logger, (server, token) => ProbeAsync(settings, server, token),
            static ex => ex is RpcRemoteException or JsonException, ServerWentSilentAsync);
        // Only with somewhere else to go: in direct mode a ban would turn a pause into failures.
        if (registry is not null)
            _health.StartWatchdog();
    }

    /// <summary>The servers calls can go to now: the cache in registry mode, the one server in direct mode.</summary>
    public IReadOnlyList<InstanceMeta> Instances => _registry?.Instances ?? _directServer;

    /// <summary>A client for one server, dialled directly (<c>-m server -i HOST -p PORT</c>). Connects lazily, on the first call.</summary>
    public static RpcClient Direct(string host, int port, ClientSettings settings, ILoggerFactory? loggerFactory = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        return new RpcClient(settings, loggerFactory, registry: null, new InstanceMeta { Host = host.Trim('[', ']'), Port = port }, loadBalance: null);
    }

    /// <summary>A client that discovers servers through the lab's registry center (the built-in
    /// <see cref="RegistryClient"/>). Returns after the first discovery, so the first call already sees the
    /// registered servers; a registry that is down is logged, not fatal.</summary>
    /// <param name="loadBalance">Overrides the strategy from <paramref name="settings"/> (a seeded one is reproducible).</param>
    public static Task<RpcClient> ConnectToRegistryAsync(
        RegistrySettings registry,
        ClientSettings settings,
        ILoggerFactory? loggerFactory = null,
        LoadBalance? loadBalance = null,
        CancellationToken cancellationToken = default)
    {
        ILoggerFactory factory = loggerFactory ?? NullLoggerFactory.Instance;
        return ConnectAsync(new RegistryClient(registry, settings, factory.CreateLogger<RegistryClient>()), settings, factory, loadBalance, cancellationToken);
    }

    /// <summary>A client that discovers servers through <paramref name="discovery"/>, whichever backend it is
    /// (the program chooses: the built-in registry, or etcd). The client owns it from here: it starts it,
    /// and disposing the client disposes it.</summary>
    /// <param name="loadBalance">Overrides the strategy from <paramref name="settings"/> (a seeded one is reproducible).</param>
    public static async Task<RpcClient> ConnectAsync(
        IServiceDiscovery discovery,
        ClientSettings settings,
        ILoggerFactory? loggerFactory = null,
        LoadBalance? loadBalance = null,
        CancellationToken cancellationToken = default)
    {
        try
        {
            await discovery.StartAsync(cancellationToken);
        }
        catch
        {
            await discovery.DisposeAsync();
            throw;
        }

        return new RpcClient(settings, loggerFactory, discovery, directServer: null, loadBalance);
    }

    /// <summary>Calls <paramref name="method"/> and returns its result (<c>res</c>) as <typeparamref name="T"/>
    /// (<see cref="JsonElement"/> takes any JSON).</summary>
    /// <exception cref="RpcRemoteException">The server answered with an error reply.</exception>
    /// <exception cref="RpcTransportException">Connect, write, call-timeout or read failure (direct mode, or a sent request).</exception>
    /// <exception cref="NoServerAvailableException">Registry mode: no instance is registered, or all failed before the request was sent,
    /// or <c>max_attempts</c> of them did.</exception>
    /// <exception cref="RpcCallDeadlineException">The whole call, every server it tried included, took longer than <c>call_deadline</c>.</exception>
    /// <exception cref="JsonException">The result cannot be read as <typeparamref name="T"/> (the connection stays usable).</exception>
    public async Task<T?> CallAsync<T>(
        string method,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        CancellationToken cancellationToken = default) =>
        (await CallDetailedAsync<T>(method, args, kwargs, options: null, cancellationToken)).Value;

    /// <summary>Like <see cref="CallAsync{T}"/>, also telling which server answered, with per-call options.</summary>
    public Task<RpcCallResult<T>> CallDetailedAsync<T>(
        string method,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        RpcCallOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(method);
        return ExecuteAsync(method, args, kwargs, options ?? RpcCallOptions.Default,
                            static result => result.Deserialize<T>(ProtocolJson.Options), cancellationToken);
    }

    /// <summary>Whether the server offers <paramref name="name"/> — the lab's discovery, built on the reserved
    /// <c>all_your_methods</c> call. The list is fetched once per server and cached.</summary>
    public async Task<bool> SupportsAsync(string name, CancellationToken cancellationToken = default)
    {
        foreach (InstanceMeta instance in Instances)
        {
            if (_methodsByServer.TryGetValue(instance.Address, out IReadOnlySet<string>? known))
                return known.Contains(name);
        }

        // Listing methods has no side effect, so it may safely be re-sent to another instance.
        RpcCallResult<IReadOnlySet<string>> listed = await ExecuteAsync(
            RpcRequest.DiscoveryMethodName, null, null, RpcCallOptions.IdempotentCall, ServerMethods.ReadNames, cancellationToken);
        _methodsByServer[listed.Server] = listed.Value!;
        return listed.Value!.Contains(name);
    }

    /// <summary>The lab's proxy face: <c>dynamic lab = client.AsDynamic(); lab.add(1, 2)</c>.</summary>
    public dynamic AsDynamic() => new DynamicRpcProxy(this);

    /// <summary>Stops the registry poll loop and closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        try
        {
            await _health.DisposeAsync();
            if (_registry is not null)
                await _registry.DisposeAsync();
        }
        finally
        {
            foreach (ConnectionPool pool in _pools.Values)
                await pool.DisposeAsync();
        }
    }

    /// <summary>Synchronous disposal for <c>using</c> without <c>await</c>. It waits for the poll loop to end and the
    /// sockets to close, all of which finish promptly (closing a socket does not wait for the peer).</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task<RpcCallResult<T>> ExecuteAsync<T>(
        string method,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        RpcCallOptions options,
        Func<JsonElement, T?> readResult,
        CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        // Every phase has its own timeout, but a call that moves from server to server could add them up
        // without end: call_deadline bounds the whole call, and max_attempts how many servers it may try.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_settings.CallDeadline);
        var tried = new HashSet<InstanceKey>();
        RpcTransportException? lastFailure = null;
        InstanceMeta? instance = null;
        try
        {
            while (true)
            {
                instance = await ChooseInstanceAsync(tried, lastFailure, deadline.Token);
                tried.Add(instance.Key);
                try
                {
                    long started = Stopwatch.GetTimestamp();
                    T? value = await CallOnAsync(instance, method, args, kwargs, readResult, deadline.Token);
                    _logger.LogDebug("{Method} -> {Server} ok in {Elapsed:0.0} ms", method, instance.Address, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    return new RpcCallResult<T>(value, instance.Address);
                }
                catch (RpcRemoteException ex)
                {
                    _logger.LogDebug("{Method} -> {Server} {Code}: {Message}", method, instance.Address, ex.Code, ex.RemoteMessage);
                    throw;
                }
                // Safe to move on: the request never left (connect or write failed), or it did but the method
                // is idempotent and the server died mid-call. Timeouts are not failover: that server is alive.
                catch (RpcTransportException ex) when (_registry is not null && (!ex.RequestSent || (options.Idempotent && ex is RpcReadException)))
                {
                    lastFailure = ex;
                    if (ex is not RpcServerBusyException)
                    {
                        await DropInstanceAsync(instance, ex);
                    }

                    if (tried.Count >= _settings.MaxAttempts)
                    {
                        throw new NoServerAvailableException(
                            $"no server available: {tried.Count} instances failed, the most one call tries (max_attempts); the last one said: {ex.Message}", ex);
                    }

                    ClientMetrics.FailedOver(instance.Address);
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new RpcCallDeadlineException(instance?.Address, _settings.CallDeadline, tried.Count, lastFailure);
        }
    }

    private async Task<InstanceMeta> ChooseInstanceAsync(HashSet<InstanceKey> tried, RpcTransportException? lastFailure, CancellationToken cancellationToken)
    {
        List<InstanceMeta> candidates = Instances.Where(instance => !tried.Contains(instance.Key)).ToList();
        if (candidates.Count == 0 && tried.Count == 0 && _registry is not null)
        {
            // An empty cache (the registry was down at start, or the servers registered later): ask
            // once more now rather than fail a call the registry could answer.
            await _registry.RefreshAsync(cancellationToken);
            candidates = Instances.ToList();
        }

        if (candidates.Count > 0)
            return _loadBalance.Select(_health.Preferred(candidates, byWeight: _loadBalance.Strategy == LoadBalanceStrategy.WeightedRandom));

        if (lastFailure is not null)
        {
            throw new NoServerAvailableException(
                $"no server available: all {tried.Count} instances failed; the last one said: {lastFailure.Message}", lastFailure);
        }

        string where = _registry is null ? "no server configured" : $"the registry at {_registry.RegistryAddress} lists no {InstanceMeta.JsonProtocol} instance"
                                                                    + (_registry.RegistryDown ? " (and is unreachable)" : "");
        throw new NoServerAvailableException($"no server available: {where}");
    }

    private async Task<T?> CallOnAsync<T>(
        InstanceMeta instance,
        string method,
        IReadOnlyList<object?>? args,
        IReadOnlyDictionary<string, object?>? kwargs,
        Func<JsonElement, T?> readResult,
        CancellationToken cancellationToken)
    {
        ConnectionPool pool = _pools.GetOrAdd(
            instance.Key, _ => new ConnectionPool(instance.Host, instance.Port, _settings, _loggerFactory.CreateLogger<ConnectionPool>()));
        if (Volatile.Read(ref _disposed) != 0)
        {
            // DisposeAsync may have run between the check in ExecuteAsync and GetOrAdd: a pool created
            // now would never be closed.
            await pool.DisposeAsync();
            throw new ObjectDisposedException(nameof(RpcClient));
        }

        return await _health.TrackAsync(instance, async () =>
        {
            ServerConnection connection = await pool.RentAsync(cancellationToken);
            try
            {
                return await ClientMetrics.CountAsync(instance.Address, connection.CallAsync(method, args, kwargs, readResult, cancellationToken));
            }
            finally
            {
                await pool.ReturnAsync(connection);
            }
        });
    }

    // The watchdog's probe: all_your_methods on a fresh connection (a pooled one may be stuck behind a frozen call).
    internal static async Task ProbeAsync(ClientSettings settings, InstanceMeta server, CancellationToken cancellationToken)
    {
        await using ServerConnection probe = await ServerConnection.ConnectAsync(server.Host, server.Port, settings, cancellationToken);
        await probe.CallAsync(RpcRequest.DiscoveryMethodName, null, null, static _ => true, cancellationToken);
    }

    // The watchdog's verdict: ban the server and end the calls stuck there, so they fail over (when
    // the failover rule allows) now instead of after call_timeout.
    private async Task ServerWentSilentAsync(InstanceMeta instance, string why)
    {
        _registry?.Remove(instance);
        int stuck = _health.Outstanding(instance.Key);
        _logger.LogWarning("Server {Server} stopped answering ({Why}); banned for {Ban} s (unreachable_ban), ending its {Stuck} calls in flight",
                           instance.Address, why, _settings.UnreachableBan.TotalSeconds, stuck);
        if (_pools.TryGetValue(instance.Key, out ConnectionPool? pool))
            await pool.AbortAllAsync($"{instance.Address} stopped answering and was banned ({why})");
    }

    private async Task DropInstanceAsync(InstanceMeta instance, RpcTransportException failure)
    {
        // Concurrent calls often hit the same dead server at once: the one that drops it says so at
        // Warning, the others at Debug, so an outage reads as one event in the log.
        if (_registry!.Remove(instance))
            _logger.LogWarning("Server {Server} failed ({Reason}); dropped it from the cache; trying another instance", instance.Address, failure.Message);
        else
            _logger.LogDebug("Server {Server} failed ({Reason}); trying another instance", instance.Address, failure.Message);

        if (_pools.TryGetValue(instance.Key, out ConnectionPool? pool))
            await pool.CloseIdleAsync();
    }
}
