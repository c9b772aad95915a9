using dotnet_etcd;
using Grpc.Core;
using Lab.Protocol.Settings;
using Lab.Scenarios.Harness;

namespace Lab.Tests.Discovery.Etcd;

/// <summary>
/// Real etcd for the etcd tests: <see cref="EtcdCluster"/> on loopback with temporary data
/// directories. Where etcd is not installed the test is reported skipped, with the command to install it.
/// </summary>
internal static class EtcdTestCluster
{
    public static async Task<EtcdCluster> StartAsync(int size = 1)
    {
        if (EtcdCluster.FindEtcd() is null)
        {
            Assert.Ignore($"etcd is not installed; to run the etcd tests: {EtcdCluster.InstallCommand}");
        }

        string work = Path.GetTempPath();
        return await EtcdCluster.StartAsync(size, work, (name, program, arguments) => ManagedProcess.Start(name, program, arguments, work, onLine: null),
            TestTimeouts.Unexpected);
    }

    /// <summary>Registry settings pointing at <paramref name="etcd"/>, under a prefix of this test's own.</summary>
    public static RegistrySettings Settings(EtcdCluster etcd, double heartbeatTimeoutSeconds = 10) => new()
    {
        Backend = RegistryBackend.Etcd,
        EtcdEndpoints = etcd.ClientEndpoints,
        EtcdPrefix = $"/rpclab-test-{Guid.NewGuid():N}",
        HeartbeatTimeout = TimeSpan.FromSeconds(heartbeatTimeoutSeconds),
    };

    /// <summary>A plain etcd client, for the test to look at and change the store as an operator would.</summary>
    public static EtcdClient Client(EtcdCluster etcd) =>
        new(etcd.ClientEndpoints, configureChannelOptions: options => options.Credentials = ChannelCredentials.Insecure);
}
