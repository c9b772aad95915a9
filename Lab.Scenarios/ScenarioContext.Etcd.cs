using Lab.Scenarios.Harness;

namespace Lab.Scenarios;

/// <summary>The etcd scenarios' part of the context: an etcd cluster in the scenario's process group, and etcdctl.</summary>
internal sealed partial class ScenarioContext
{
    /// <summary>
    /// Starts an etcd cluster of <paramref name="size"/> members (killed with the rest of the
    /// scenario's processes) and switches the scenario's config.ini to <c>backend = etcd</c> on it.
    /// </summary>
    public async Task<EtcdCluster> StartEtcdAsync(int size)
    {
        EtcdCluster etcd = await EtcdCluster.StartAsync(size, WorkDirectory, (name, program, arguments) =>
        {
            ManagedProcess process = _processes.Start(name, program, arguments);
            Step($"started {name} (pid {process.Id}): etcd {string.Join(' ', arguments.Take(2))} ...");
            return process;
        }, StartupTimeout);
        Config.Set("registry:backend", "etcd");
        Config.Set("registry:etcd_endpoints", etcd.ClientEndpoints);
        Config.Set("registry:etcd_prefix", "/rpclab");
        Step($"etcd is ready ({size} member{(size == 1 ? "" : "s")}: {etcd.ClientEndpoints}); config.ini now says backend = etcd");
        return etcd;
    }

    /// <summary>Runs <c>etcdctl --endpoints ... get --prefix /rpclab</c>, as an operator would, and returns its output lines (key, value, key, value...).</summary>
    public async Task<IReadOnlyList<string>> EtcdctlGetAsync(EtcdCluster etcd, string prefix = "/rpclab")
    {
        string etcdctl = EtcdCluster.FindProgram("etcdctl") ?? throw new ScenarioFailedException($"etcdctl is not installed: {EtcdCluster.InstallCommand}");
        string[] arguments = ["--endpoints", etcd.ClientEndpoints, "--command-timeout", "5s", "get", "--prefix", prefix];
        ManagedProcess process = _processes.Start(NextName("etcdctl"), etcdctl, arguments);
        Step($"$ etcdctl {string.Join(' ', arguments)}");
        int exitCode = await process.WaitForExitAsync(Unexpected, Cancellation);
        Check(exitCode == 0, "etcdctl answered", $"exit code {exitCode}");
        return [.. process.Lines.Where(line => !line.IsError).Select(line => line.Text)];
    }
}
