using Lab.Protocol.Settings;

namespace Lab.Tests.Server.Support;

/// <summary>Server settings with short timings, so timeouts fire in a fraction of a second.</summary>
internal static class TestSettings
{
    public static ServerSettings Server() => new()
    {
        Host = "127.0.0.1",
        Port = 0,
        AdvertiseHost = "",
        HeartbeatInterval = TimeSpan.FromSeconds(0.1),
        // Generous: a cold first HTTP request on a loaded machine can take a while; tests of the timeout set their own.
        RegistryTimeout = TimeSpan.FromSeconds(5),
        ReadTimeout = TimeSpan.FromSeconds(0.3),
        WriteTimeout = TimeSpan.FromSeconds(0.3),
        MethodTimeout = TimeSpan.FromSeconds(5),
        DrainTimeout = TimeSpan.FromSeconds(5),
        MaxMessageSize = 1024 * 1024,
    };

    public static RegistrySettings Registry(int port) => new() { Host = "127.0.0.1", Port = port };
}
