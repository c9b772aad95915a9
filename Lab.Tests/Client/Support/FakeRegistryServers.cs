namespace Lab.Tests.Client.Support;

/// <summary>Lets a client test list its <see cref="TestRpcServer"/>s in the shared <see cref="FakeRegistry"/>.</summary>
public static class FakeRegistryServers
{
    /// <summary>What the registry lists from now on: these servers, without weights.</summary>
    public static void SetServers(this FakeRegistry registry, params TestRpcServer[] servers) =>
        registry.SetInstances([.. servers.Select(server => (server.Host, server.Port, (double?)null))]);
}
