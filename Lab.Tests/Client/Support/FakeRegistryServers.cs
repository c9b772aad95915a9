using Lab.Tests.Server.Support;

namespace Lab.Tests.Client.Support;

/// <summary>Lets a client test list its <see cref="RunningTcpServer"/>s in the shared <see cref="FakeRegistry"/>.</summary>
public static class FakeRegistryServers
{
    /// <summary>What the registry lists from now on: these servers, without weights.</summary>
    public static void SetServers(this FakeRegistry registry, params RunningTcpServer[] servers) =>
        registry.SetInstances([.. servers.Select(server => (server.Host, server.Port, (double?)null))]);
}
