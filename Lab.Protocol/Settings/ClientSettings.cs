
namespace Lab.Protocol.Settings;

/// <summary>How the client finds servers (lab requirements §6).</summary>
public enum ClientMode
{
    /// <summary>Discover servers through the registry (the lab's default).</summary>
    Registry,

    /// <summary>Dial one server directly (<c>-i</c>, <c>-p</c>).</summary>
    Server,
}

/// <summary>Load-balancing strategies (lab requirements §6).</summary>
public enum LoadBalanceStrategy
{
    /// <summary>Uniformly random (the lab's default).</summary>
    Random,

    /// <summary>Each instance in turn.</summary>
    RoundRobin,

    /// <summary>Random, proportional to <c>parameters.weight</c>.</summary>
    WeightedRandom,
}

/// <summary><c>[client]</c>: mode, discovery polling, load balancing and every client-side timeout (lab requirements §6, §7).</summary>
public sealed record ClientSettings
{
    public const string SectionName = "client";

    public ClientMode Mode { get; init; } = ClientMode.Registry;

    /// <summary>Server address in server mode (<c>-i</c>), IPv4 or IPv6.</summary>
    public string Host { get; init; } = "";

    /// <summary>Server port in server mode (<c>-p</c>).</summary>
    public int Port { get; init; }

    /// <summary>Seconds between registry polls that refresh the cache. Default 3.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Timeout of each HTTP request to the registry. Default 3 s.</summary>
    public TimeSpan RegistryTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Connecting to a server must finish within this. Default 3 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Writing a request must finish within this. Default 5 s.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>After the request is sent, the reply must start within this (server processing). Default 35 s:
    /// a little longer than the server's default method_timeout (30 s), so a slow method ends with the
    /// server's precise MethodTimeout reply rather than a race between the two deadlines.</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(35);

    /// <summary>Once a reply started, the rest must arrive within this. Default 5 s.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest a whole call may take, every server it tries included: each phase above has its own
    /// timeout, but in registry mode a call may move on from server to server, and only this bounds the sum.
    /// Default 40 s: above <see cref="CallTimeout"/>, so a slow method still ends with the server's MethodTimeout
    /// reply even after a failover or two.</summary>
    public TimeSpan CallDeadline { get; init; } = TimeSpan.FromSeconds(40);

    /// <summary>Registry mode: how many servers one call may try, the first included, before it fails with
    /// <c>NoServerAvailableException</c>. Default 3: enough to get past a server or two that just died, few enough
    /// that a registry listing hundreds of dead or made-up instances costs one call a few connect timeouts,
    /// not hundreds.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Largest answer the client reads from the registry (discovery), in bytes. Default 2 MiB: the
    /// registry's default max_instances (1000) of at most ~1.4 KB each (max_parameters_size 1 KiB, a host
    /// name of up to 253 characters, the other fields) fit with room to spare.</summary>
    public int MaxRegistryResponseSize { get; init; } = 2 * 1024 * 1024;

    public LoadBalanceStrategy LoadBalance { get; init; } = LoadBalanceStrategy.Random;

    /// <summary>Largest reply in bytes. Default 1 MiB.</summary>
    public int MaxMessageSize { get; init; } = 1024 * 1024;

    /// <summary>Idle connections kept open per server for reuse. Default 16.</summary>
    public int MaxIdleConnectionsPerServer { get; init; } = 16;

    /// <summary>A server with calls outstanding that answered none for this long is probed (registry mode). Default 2 s.</summary>
    public TimeSpan SilentAfter { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The probe of a silent server must be answered within this, or the server is banned. Default 2 s.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a server that refused a connection or failed a probe is left out of the cache. Default 10 s.</summary>
    public TimeSpan UnreachableBan { get; init; } = TimeSpan.FromSeconds(10);
}
