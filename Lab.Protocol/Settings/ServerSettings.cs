
namespace Lab.Protocol.Settings;

/// <summary><c>[server]</c>: the RPC server's listen address, heartbeat and every server-side timeout (lab requirements §5, §7).</summary>
public sealed record ServerSettings
{
    public const string SectionName = "server";

    /// <summary>Listen address, IPv4 or IPv6. Default 0.0.0.0 (every IPv4 interface); <c>::</c> listens on IPv6 (and IPv4 where the OS allows).</summary>
    public string Host { get; init; } = "0.0.0.0";

    /// <summary>Listen port; the <c>-p</c> flag is required, 0 picks a free port (tests).</summary>
    public int Port { get; init; }

    /// <summary>Address registered with the registry when listening on a wildcard; empty = this machine's address.</summary>
    public string AdvertiseHost { get; init; } = "";

    /// <summary>Seconds between heartbeats (re-registrations). Default 5.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Timeout of each HTTP request to the registry. Default 3 s.</summary>
    public TimeSpan RegistryTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Once a request's first byte arrived, the rest must arrive within this. Default 10 s.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Writing one reply must finish within this (a client that never reads). Default 10 s.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A method running longer gets a MethodTimeout reply and its token cancelled. Default 30 s.</summary>
    public TimeSpan MethodTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>On graceful stop, in-flight calls get this long to finish. Default 10 s.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest request the server accepts, in bytes; a larger one is answered MessageTooLarge and its connection closed. Default 1 MiB.</summary>
    public int MaxMessageSize { get; init; } = 1024 * 1024;

    /// <summary>User methods running at once, each on a method thread of its own; a method past its method timeout
    /// counts until it really returns. A call beyond it gets ServerBusy. Default 1000.</summary>
    public int MaxConcurrentCalls { get; init; } = 1000;

    /// <summary>Open connections; a connection beyond it is closed at once. Default 5000 (also capped below the descriptor limit).</summary>
    public int MaxConnections { get; init; } = 5000;

    /// <summary>A connection with no request for this long is closed. Default 300 s.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(300);
}
