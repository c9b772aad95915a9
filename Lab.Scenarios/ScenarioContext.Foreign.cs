using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Lab.Protocol.Discovery;
using Lab.Scenarios.Grading;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios;

/// <summary>
/// The part of the context that runs another implementation's programs
/// (<see cref="ForeignPrograms"/>) and observes them from outside: readiness by an accepted
/// connection, registration by the registry's discovery answer.
/// </summary>
internal sealed partial class ScenarioContext
{
    /// <summary>Class grading: the sandbox the foreign programs start in; null: they run as the runner does.</summary>
    public ScenarioSandbox? Sandbox { get; init; }

    /// <summary>Waits until findAllInstances lists <paramref name="server"/> (among others), and records the check.</summary>
    public async Task ExpectListedAsync(RegistryProbe probe, RunningServer server)
    {
        bool listed = await PollAsync(async token =>
        {
            try
            {
                return (await probe.ListedAddressesAsync(token)).Contains(server.Address);
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, Unexpected);
        Check(listed, $"the registry lists {server.Process.Name} ({server.Address})", $"findAllInstances did not list it within {Unexpected.TotalSeconds:0} s");
    }

    /// <summary>
    /// Starts a server (ours, or the foreign one) on <paramref name="host"/>:<paramref name="port"/>
    /// without waiting for it to be ready: for a server that is expected to fail at start.
    /// </summary>
    public ManagedProcess StartServerProcess(string host, int port, string name) =>
        Foreign.Replaces(LabProgram.Server)
            ? StartForeign(LabProgram.Server, name, host, port)
            : Start(LabProgram.Server, name, ["-l", host, "-p", Invariant(port)]);

    /// <summary>Starts a client (ours, or the foreign one, which is only told where to go) without waiting for it.</summary>
    public ManagedProcess StartAnyClient(IReadOnlyList<string> arguments, string? name = null) =>
        Foreign.Replaces(LabProgram.Client) ? StartForeignClient(arguments, name ?? NextName("client")) : StartClient(arguments, name);

    private ManagedProcess StartForeignClient(IReadOnlyList<string> arguments, string name)
    {
        int host = IndexOf(arguments, "-i");
        int port = IndexOf(arguments, "-p");
        bool direct = host >= 0 && port >= 0;
        return StartForeign(LabProgram.Client, name,
            direct ? arguments[host + 1] : Config.Get("registry:host") ?? "127.0.0.1",
            direct ? int.Parse(arguments[port + 1], CultureInfo.InvariantCulture) : int.Parse(Config.Get("registry:port") ?? "9999", CultureInfo.InvariantCulture),
            direct ? "server" : "registry");

        // The index of a flag that has a value after it, or -1.
        static int IndexOf(IReadOnlyList<string> list, string flag) =>
            Enumerable.Range(0, Math.Max(0, list.Count - 1)).FirstOrDefault(i => list[i] == flag, -1);
    }

    // Starts the foreign program of this kind through the platform shell, in its own fresh directory.
    private ManagedProcess StartForeign(LabProgram kind, string name, string host, int port, string mode = "")
    {
        string directory = Path.Combine(WorkDirectory, name);
        Directory.CreateDirectory(directory);
        var values = new Dictionary<string, string>
        {
            ["host"] = host,
            ["port"] = Invariant(port),
            ["registry_host"] = Config.Get("registry:host") ?? "127.0.0.1",
            ["registry_port"] = Config.Get("registry:port") ?? "9999",
            ["config"] = Config.Path,
            ["workdir"] = directory,
            ["cwd"] = Directory.GetCurrentDirectory(),
            ["mode"] = mode,
        };
        string command = Foreign.Expand(kind, values);
        ManagedProcess process;
        if (Sandbox is null)
        {
            (string fileName, string[] shellArguments) = ForeignPrograms.ShellCommand(command);
            process = _processes.Start(name, fileName, shellArguments, directory);
        }
        else
        {
            process = Sandbox.Start(_processes, name, command, directory);
        }

        Step($"started {name} (pid {process.Id}, foreign {kind.ToString().ToLowerInvariant()}{(Sandbox is null ? "" : ", sandboxed")}): {command}");
        return process;
    }

    // A foreign registry or server prints nothing we can read: it is ready when its port accepts a connection.
    private async Task<ManagedProcess> StartForeignAsync(LabProgram kind, string name, string host, int port)
    {
        ManagedProcess process = StartForeign(kind, name, host, port);
        string dial = System.Net.IPAddress.TryParse(host, out IPAddress? address) && (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
            ? (address.AddressFamily == AddressFamily.InterNetworkV6 ? "::1" : "127.0.0.1")
            : host;
        bool ready = await PollAsync(async token =>
        {
            if (process.HasExited)
            {
                throw new ScenarioFailedException($"{name} exited with code {process.ExitCode} before accepting connections on {host}:{port}");
            }

            using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(dial, port, token);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }, StartupTimeout);
        Check(ready, $"{name} accepts connections on {HostAddress.Format(host, port)}", $"nothing accepted a connection there within {StartupTimeout.TotalSeconds:0} s");
        return process;
    }
}
