namespace Lab.Protocol.Discovery;

/// <summary>
/// The server side of discovery, whoever keeps the list: register this server, keep the entry alive
/// while it runs, remove it on a graceful stop. The built-in registry does it with HTTP heartbeats
/// (Lab.Server's <c>RegistryClient</c>), etcd with a lease (<c>EtcdRegistration</c>).
/// </summary>
/// <remarks>Concurrency: <see cref="StartAsync"/> once, then <see cref="StopAsync"/> once.</remarks>
public interface IServiceRegistration : IAsyncDisposable
{
    /// <summary>Where the list is kept, as logs show it: <c>http://127.0.0.1:9999</c>.</summary>
    string RegistryAddress { get; }

    /// <summary>Starts keeping <paramref name="instance"/> registered, in the background; returns at once.</summary>
    Task StartAsync(InstanceMeta instance, CancellationToken cancellationToken = default);

    /// <summary>Stops the keep-alive (none can follow), then removes the entry. Never throws.</summary>
    /// <returns>True if the registry confirmed the removal.</returns>
    Task<bool> StopAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// The client side of discovery: list the servers and follow changes into an <see cref="InstanceCache"/>.
/// The built-in registry is polled (Lab.Client's <c>RegistryClient</c>), etcd is watched
/// (<c>EtcdDiscovery</c>). Load balancing, failover and the call path only see this.
/// </summary>
/// <remarks>Concurrency: every member but start/stop may be called from any thread at any time.</remarks>
public interface IServiceDiscovery : IAsyncDisposable
{
    /// <summary>Where the list is kept, as logs show it: <c>http://127.0.0.1:9999</c>.</summary>
    string RegistryAddress { get; }

    /// <summary>The servers to call now: an immutable snapshot.</summary>
    IReadOnlyList<InstanceMeta> Instances { get; }

    /// <summary>True while the registry cannot be reached (the cache is then the last known list).</summary>
    bool RegistryDown { get; }

    /// <summary>Reads the list once, then follows changes in the background. A registry that is down is not fatal.</summary>
    Task StartAsync(CancellationToken cancellationToken = default);

    /// <summary>Stops following changes and waits for the background work to end.</summary>
    Task StopAsync(CancellationToken cancellationToken = default);

    /// <summary>Reads the list now. False (cache kept) when the registry cannot be reached.</summary>
    Task<bool> RefreshAsync(CancellationToken cancellationToken = default);

    /// <summary>Drops a server that failed (see <see cref="InstanceCache.Remove"/>).</summary>
    bool Remove(InstanceMeta instance);
}
