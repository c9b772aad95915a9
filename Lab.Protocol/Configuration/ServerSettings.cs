using Lab.Configuration;

namespace Lab.Protocol.Configuration;

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

    /// <summary>Largest request or reply in bytes. Default 1 MiB.</summary>
    public int MaxMessageSize { get; init; } = 1024 * 1024;

    /// <summary>User methods running or waiting for a method thread at once; a call beyond it gets ServerBusy. Default 1000.</summary>
    public int MaxConcurrentCalls { get; init; } = 1000;

    /// <summary>Open connections; a connection beyond it is closed at once. Default 5000 (also capped below the descriptor limit).</summary>
    public int MaxConnections { get; init; } = 5000;

    /// <summary>A connection with no request for this long is closed. Default 300 s.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(300);

    public static ServerSettings Read(LabConfiguration configuration)
    {
        ConfigSection section = configuration.Section(SectionName);
        var defaults = new ServerSettings();
        return new ServerSettings
        {
            Host = section.GetString("host", defaults.Host),
            Port = section.GetInt("port", defaults.Port, 0, 65535),
            AdvertiseHost = section.GetString("advertise_host", defaults.AdvertiseHost),
            HeartbeatInterval = section.GetSeconds("heartbeat_interval", defaults.HeartbeatInterval.TotalSeconds),
            RegistryTimeout = section.GetSeconds("registry_timeout", defaults.RegistryTimeout.TotalSeconds),
            ReadTimeout = section.GetSeconds("read_timeout", defaults.ReadTimeout.TotalSeconds),
            WriteTimeout = section.GetSeconds("write_timeout", defaults.WriteTimeout.TotalSeconds),
            MethodTimeout = section.GetSeconds("method_timeout", defaults.MethodTimeout.TotalSeconds),
            DrainTimeout = section.GetSeconds("drain_timeout", defaults.DrainTimeout.TotalSeconds),
            MaxMessageSize = section.GetInt("max_message_size", defaults.MaxMessageSize, 64, 256 * 1024 * 1024),
            MaxConcurrentCalls = section.GetInt("max_concurrent_calls", defaults.MaxConcurrentCalls, 1, 4096),
            MaxConnections = section.GetInt("max_connections", defaults.MaxConnections, 1, 1_000_000),
            IdleTimeout = section.GetSeconds("idle_timeout", defaults.IdleTimeout.TotalSeconds),
        };
    }
}
