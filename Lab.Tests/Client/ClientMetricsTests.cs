using Lab.Client;
using Lab.Protocol.Settings;
using Lab.Tests.Client.Support;
using Lab.Tests.Server.Support;

namespace Lab.Tests.Client;

/// <summary>
/// The client's meter, read the way dotnet-counters reads it (a <see cref="MeterRecorder"/>), while real calls
/// go over real sockets to real servers. Each test's servers have addresses of their own, so the counts
/// tagged with them are exact.
/// </summary>
[NonParallelizable]
public class ClientMetricsTests
{
    [Test]
    public async Task Client_counts_calls_by_server_and_outcome()
    {
        using var recorder = new MeterRecorder(ClientMetrics.MeterName);
        await using var server = new RunningTcpServer();
        string address = $"127.0.0.1:{server.EndPoint.Port}";
        await using RpcClient client = RpcClient.Direct("127.0.0.1", server.EndPoint.Port, new ClientSettings());

        (await client.CallAsync<double>("add", [1, 2])).ShouldBe(13);
        await Should.ThrowAsync<RpcRemoteException>(() => client.CallAsync<double>("divide", [1, 0]));

        recorder.Sum("rpclab.client.calls", ("server", address), ("outcome", "ok")).ShouldBe(1);
        recorder.Sum("rpclab.client.calls", ("server", address), ("outcome", "RpcRemote")).ShouldBe(1);
    }

    [Test]
    public async Task Client_counts_a_failover_away_from_a_stopped_server_and_its_registry_polls()
    {
        using var recorder = new MeterRecorder(ClientMetrics.MeterName);
        await using RunningTcpServer a = RunningTcpServer.Start("a");
        await using RunningTcpServer b = RunningTcpServer.Start("b");
        await using FakeRegistry registry = await FakeRegistry.StartNewAsync();
        registry.SetServers(a, b);
        await using RpcClient client = await RpcClient.ConnectToRegistryAsync(
            registry.Settings, ClientTestSettings.Fast, loadBalance: new LoadBalance(LoadBalanceStrategy.RoundRobin, seed: 1));
        (await client.CallAsync<string>("whoami")).ShouldBe("a");

        // The registry still lists "a": the next call given to it fails to connect and moves on to "b".
        await a.StopAsync();
        for (int i = 0; i < 4; i++)
        {
            (await client.CallAsync<string>("whoami")).ShouldBe("b");
        }

        recorder.Sum("rpclab.client.failovers", ("server", a.Address)).ShouldBeGreaterThanOrEqualTo(1);
        recorder.Sum("rpclab.client.calls", ("server", a.Address), ("outcome", "ok")).ShouldBe(1);
        recorder.Sum("rpclab.client.calls", ("server", b.Address), ("outcome", "ok")).ShouldBe(4);
        recorder.Sum("rpclab.client.discovery.refreshes", ("outcome", "ok")).ShouldBeGreaterThanOrEqualTo(1);
    }
}
