namespace Lab.Protocol.Discovery;

/// <summary>The server side of discovery, whoever keeps the list: register this server, keep the entry alive
/// while it runs, remove it on a graceful stop. Here, not in Lab.Server, because the etcd backend
/// implements it too and the server program references that backend. Built in: Lab.Server's <c>RegistryClient</c> (HTTP
/// heartbeats); on etcd: <c>EtcdRegistration</c> (a lease). <see cref="StartAsync"/> once, then <see cref="StopAsync"/> once.</summary>
public interface IServiceRegistration : IAsyncDisposable
{
    /// <summary>Where the list is kept, as logs show it: <c>http://127.0.0.1:9999</c>.</summary>
    string RegistryAddress { get; }

    /// <summary>Starts keeping <paramref name="instance"/> registered, in the background; returns at once.</summary>
    Task StartAsync(InstanceMeta instance, CancellationToken cancellationToken = default);

    /// <summary>Stops the keep-alive (none can follow), then removes the entry. Never throws; true if the registry confirmed.</summary>
    Task<bool> StopAsync(CancellationToken cancellationToken = default);
}
