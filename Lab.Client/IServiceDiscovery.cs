using Lab.Protocol.Discovery;

namespace Lab.Client;

/// <summary>The client side of discovery: list the servers, follow changes into an <see cref="InstanceCache"/>.
/// Built in: Lab.Client's <c>RegistryClient</c> (polling); on etcd: <c>EtcdDiscovery</c> (a watch).
/// Load balancing, failover and the call path see only this. All members but start/stop may be called from any thread.</summary>
public interface IServiceDiscovery : IAsyncDisposable
{
    /// <inheritdoc cref="IServiceRegistration.RegistryAddress"/>
    string RegistryAddress { get; }

    /// <inheritdoc cref="InstanceCache.Instances"/>
    IReadOnlyList<InstanceMeta> Instances { get; }

    /// <inheritdoc cref="InstanceCache.RegistryDown"/>
    bool RegistryDown { get; }

    /// <summary>Reads the list once, then follows changes in the background. A registry that is down is not fatal.</summary>
    Task StartAsync(CancellationToken cancellationToken = default);

    /// <summary>Stops following changes and waits for the background work to end.</summary>
    Task StopAsync(CancellationToken cancellationToken = default);

    /// <summary>Reads the list now. False (cache kept) when the registry cannot be reached.</summary>
    Task<bool> RefreshAsync(CancellationToken cancellationToken = default);

    /// <inheritdoc cref="InstanceCache.Remove"/>
    bool Remove(InstanceMeta instance);
}
