using Lab.Protocol.Settings;

namespace Lab.Tests.Client.Support;

/// <summary>
/// Client settings for tests: quick polling, and timeouts long enough that a healthy call on a busy
/// build machine never trips them. A test of one timeout shortens just that one
/// (<c>Fast with { CallTimeout = TestTimeouts.Short }</c>), so the phase that fires is unambiguous.
/// </summary>
public static class ClientTestSettings
{
    public static ClientSettings Fast { get; } = new()
    {
        PollInterval = TestTimeouts.Poll,
        RegistryTimeout = TimeSpan.FromSeconds(5),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        WriteTimeout = TimeSpan.FromSeconds(10),
        CallTimeout = TimeSpan.FromSeconds(20),
        ReadTimeout = TimeSpan.FromSeconds(10),
        MaxMessageSize = 64 * 1024 * 1024,
    };
}
