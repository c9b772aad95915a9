
namespace Lab.Protocol.Settings;

/// <summary>Who keeps the list of servers.</summary>
public enum RegistryBackend
{
    /// <summary>The lab's registry center (Lab.Registry): HTTP, heartbeats, polling.</summary>
    Builtin,

    /// <summary>An etcd cluster: a lease per server, a watch per client, a Raft majority behind both.</summary>
    Etcd,
}

/// <summary><c>[registry]</c>: where the registry center listens (and so where servers and clients find it),
/// and how it judges health. Defaults are those documented in <c>config.ini</c>.</summary>
public sealed record RegistrySettings
{
    public const string SectionName = "registry";

    /// <summary>Address the registry listens on and others connect to. Default 127.0.0.1.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>HTTP port. Default 9999; 0 picks a free port (tests).</summary>
    public int Port { get; init; } = 9999;

    /// <summary>How often expired instances are evicted. Default 5 s.</summary>
    public TimeSpan HealthCheckInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>An instance whose last heartbeat is older than this is evicted. Default 10 s.</summary>
    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Self-preservation's threshold: when more than this percentage of the instances that heartbeat (and at
    /// least two) went silent together, the registry is more likely cut off from them than they all died. Only
    /// used when <see cref="SelfPreservationLimit"/> turns self-preservation on. Default 50.</summary>
    public int SelfPreservationPercent { get; init; } = 50;

    /// <summary>Self-preservation: how long past <see cref="HeartbeatTimeout"/> the registry keeps listing instances
    /// that went silent together (<see cref="SelfPreservationPercent"/>); after it they are evicted anyway.
    /// Zero turns self-preservation off, which is the default: the lab requires a server that stops
    /// heartbeating to be evicted, and a lab on one machine cannot be partitioned from its servers.</summary>
    public TimeSpan SelfPreservationLimit { get; init; } = TimeSpan.Zero;

    /// <summary>True when <see cref="SelfPreservationLimit"/> is above zero.</summary>
    public bool SelfPreservationEnabled => SelfPreservationLimit > TimeSpan.Zero;

    /// <summary>Largest request body accepted, in bytes. Default 64 KiB (an InstanceMeta is tiny).</summary>
    public int MaxBodySize { get; init; } = 64 * 1024;

    /// <summary>At most this many instances are stored. A new one beyond it takes the place of the oldest instance that
    /// never sent a heartbeat; when every stored instance has, it is refused (503). Default 1000.</summary>
    public int MaxInstances { get; init; } = 1000;

    /// <summary>Largest <c>parameters</c> object accepted, in bytes of JSON. Default 1024: a server's weight and
    /// call counters take under 100, and every client downloads <see cref="MaxInstances"/> of them at each poll.</summary>
    public int MaxParametersSize { get; init; } = 1024;

    /// <summary>Shared secret; when set, register and unregister need <c>Authorization: Bearer TOKEN</c> (servers
    /// send it) and discovery stays open. Default empty: no token.</summary>
    public string Token { get; init; } = "";

    /// <summary>builtin (the registry center above) or etcd. Default builtin.</summary>
    public RegistryBackend Backend { get; init; } = RegistryBackend.Builtin;

    /// <summary>etcd's client URLs (backend = etcd); comma-separated in the file. Default http://127.0.0.1:2379.</summary>
    public string EtcdEndpoints { get; init; } = "http://127.0.0.1:2379";

    /// <summary>The etcd key prefix every server registers under. Default /rpclab.</summary>
    public string EtcdPrefix { get; init; } = "/rpclab";

    /// <summary>The registry's base URL, as servers and clients dial it.</summary>
    public Uri BaseUri => new($"http://{Discovery.HostAddress.Format(Host, Port)}/");
}
