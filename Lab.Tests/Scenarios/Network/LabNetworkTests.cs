using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Lab.Scenarios.Network;

namespace Lab.Tests.Scenarios.Network;

/// <summary>
/// The lab network does what the partition scenarios rely on, checked with real sockets inside the
/// namespaces: hosts reach each other over IPv4 and IPv6; a pulled cable and a partition are
/// silent (a connect stays unanswered, it is not refused); a one-way cut and a refused route fail
/// fast on the sending side; every fault heals; nothing is left in the machine's own namespace; and
/// leftovers are removed only when their owning run is dead. Needs root and iproute2, else ignored.
/// </summary>
[Slow]
public class LabNetworkTests
{
    // How long a connect must stay unanswered to count as "silent". The property is about time
    // passing, so the test waits; it cannot pass by accident: a dropped SYN never gets an answer,
    // while a refusal arrives in microseconds.
    private static readonly TimeSpan Silence = TimeSpan.FromSeconds(1.5);

    [SetUp]
    public void RequireNamespaces()
    {
        if (LabNetwork.UnsupportedReason() is { } reason)
        {
            Assert.Ignore(reason);
        }
    }

    [Test]
    public async Task Hosts_reach_each_other_over_IPv4_and_IPv6_and_the_machine_namespace_gets_no_link()
    {
        string[] linksBefore = await MachineLinksAsync();
        using LabNetwork network = await LabNetwork.CreateAsync(["one", "two"]);
        using Socket listener = Listen(network["two"], AddressFamily.InterNetworkV6, IPAddress.IPv6Any);

        (await TryConnectAsync(network["one"], network["two"].IPv4!, listener)).ShouldBe("connected");
        (await TryConnectAsync(network["one"], network["two"].IPv6!, listener)).ShouldBe("connected");
        network["one"].IPv4.ShouldBe("10.77.0.11");
        network["two"].IPv6.ShouldBe("fd00:77::12");
        // Other programs on this machine may add links meanwhile; none may be one of ours.
        (await MachineLinksAsync()).Except(linksBefore).ShouldNotContain(link => link.StartsWith("br0") || link.StartsWith("eth0") || System.Text.RegularExpressions.Regex.IsMatch(link, @"^h\d+"));
    }

    [Test]
    public async Task A_pulled_cable_is_silent_both_ways_and_plugging_it_back_heals()
    {
        using LabNetwork network = await LabNetwork.CreateAsync(["one", "two"]);
        using Socket onTwo = Listen(network["two"], AddressFamily.InterNetwork, IPAddress.Any);
        using Socket onOne = Listen(network["one"], AddressFamily.InterNetwork, IPAddress.Any);

        NetworkFault unplugged = await network.UnplugAsync(network["two"]);
        (await TryConnectAsync(network["one"], network["two"].IPv4!, onTwo)).ShouldBe("silent");
        (await TryConnectAsync(network["two"], network["one"].IPv4!, onOne)).ShouldBe("silent");

        await unplugged.HealAsync();
        (await TryConnectAsync(network["one"], network["two"].IPv4!, onTwo)).ShouldBe("connected");
    }

    [Test]
    public async Task A_partition_is_silent_between_the_groups_only_and_heals()
    {
        using LabNetwork network = await LabNetwork.CreateAsync(["a1", "a2", "b1"]);
        using Socket onB1 = Listen(network["b1"], AddressFamily.InterNetworkV6, IPAddress.IPv6Any);
        using Socket onA2 = Listen(network["a2"], AddressFamily.InterNetworkV6, IPAddress.IPv6Any);

        NetworkFault partition = await network.PartitionAsync([network["a1"], network["a2"]], [network["b1"]]);
        (await TryConnectAsync(network["a1"], network["b1"].IPv4!, onB1)).ShouldBe("silent");
        (await TryConnectAsync(network["a1"], network["b1"].IPv6!, onB1)).ShouldBe("silent");
        (await TryConnectAsync(network["b1"], network["a2"].IPv4!, onA2)).ShouldBe("silent");
        (await TryConnectAsync(network["a1"], network["a2"].IPv4!, onA2)).ShouldBe("connected");

        await partition.HealAsync();
        (await TryConnectAsync(network["a1"], network["b1"].IPv4!, onB1)).ShouldBe("connected");
        (await TryConnectAsync(network["b1"], network["a2"].IPv6!, onA2)).ShouldBe("connected");
    }

    [Test]
    public async Task A_one_way_cut_is_silent_for_the_far_side_and_an_immediate_error_for_the_cut_side()
    {
        using LabNetwork network = await LabNetwork.CreateAsync(["from", "to"]);
        using Socket onFrom = Listen(network["from"], AddressFamily.InterNetwork, IPAddress.Any);
        using Socket onTo = Listen(network["to"], AddressFamily.InterNetwork, IPAddress.Any);

        NetworkFault cut = await network.CutOneWayAsync(network["from"], network["to"]);
        (await TryConnectAsync(network["to"], network["from"].IPv4!, onFrom)).ShouldBe("silent");
        (await TryConnectAsync(network["from"], network["to"].IPv4!, onTo)).ShouldBe(nameof(SocketError.InvalidArgument));

        await cut.HealAsync();
        (await TryConnectAsync(network["to"], network["from"].IPv4!, onFrom)).ShouldBe("connected");
    }

    [Test]
    public async Task A_refused_route_fails_at_once_with_access_denied_and_heals()
    {
        using LabNetwork network = await LabNetwork.CreateAsync(["from", "to"]);
        using Socket onTo = Listen(network["to"], AddressFamily.InterNetworkV6, IPAddress.IPv6Any);

        NetworkFault refused = await network.RefuseAsync(network["from"], network["to"]);
        (await TryConnectAsync(network["from"], network["to"].IPv4!, onTo)).ShouldBe(nameof(SocketError.AccessDenied));
        (await TryConnectAsync(network["from"], network["to"].IPv6!, onTo)).ShouldBe(nameof(SocketError.AccessDenied));

        await refused.HealAsync();
        (await TryConnectAsync(network["from"], network["to"].IPv4!, onTo)).ShouldBe("connected");
    }

    [Test]
    public async Task An_IPv6_only_network_gives_hosts_no_IPv4_address()
    {
        using LabNetwork network = await LabNetwork.CreateAsync(["one", "two"], ipv4: false);
        using Socket listener = Listen(network["two"], AddressFamily.InterNetworkV6, IPAddress.IPv6Any);

        network["one"].IPv4.ShouldBeNull();
        network["one"].Address.ShouldBe("fd00:77::11");
        (await TryConnectAsync(network["one"], network["two"].IPv6!, listener)).ShouldBe("connected");
    }

    [Test]
    public async Task Dispose_deletes_every_namespace_of_the_network()
    {
        LabNetwork network = await LabNetwork.CreateAsync(["one", "two"]);
        string[] ours = [network.BridgeNamespace, .. network.Hosts.Select(host => host.Namespace)];
        ours.ShouldAllBe(name => LabNetwork.ListOurNamespaces().Contains(name));

        network.Dispose();
        network.Dispose();

        LabNetwork.ListOurNamespaces().Intersect(ours).ShouldBeEmpty();
    }

    [Test]
    public async Task Leftovers_of_a_dead_run_are_removed_and_those_of_a_live_run_are_kept()
    {
        int deadPid = await PidOfAFinishedProcessAsync();
        string dead = $"rpclab-{deadPid}-1-host";
        string live = $"rpclab-{Environment.ProcessId}-999999-host";
        await IpCommand.RunAsync(["netns", "add", dead]);
        await IpCommand.RunAsync(["netns", "add", live]);
        try
        {
            IReadOnlyList<string> removed = LabNetwork.RemoveLeftovers();

            removed.ShouldContain(dead);
            removed.ShouldNotContain(live);
            LabNetwork.ListOurNamespaces().ShouldNotContain(dead);
            LabNetwork.ListOurNamespaces().ShouldContain(live);
        }
        finally
        {
            IpCommand.Batch(null, [$"netns del {dead}", $"netns del {live}"], force: true);
        }
    }

    [Test]
    public void Owner_pid_is_read_only_from_lab_namespace_names()
    {
        LabNetwork.OwnerPid("rpclab-4242-3-client-1").ShouldBe(4242);
        LabNetwork.OwnerPid("rpclab-bridge").ShouldBeNull();
        LabNetwork.OwnerPid("someone-else-4242-1-x").ShouldBeNull();
    }

    private static Socket Listen(LabHost host, AddressFamily family, IPAddress address)
    {
        Socket socket = NamespaceSockets.Create(host, family);
        if (family == AddressFamily.InterNetworkV6)
        {
            socket.DualMode = true;
        }

        socket.Bind(new IPEndPoint(address, 0));
        socket.Listen();
        return socket;
    }

    /// <summary>"connected", "silent" (no answer within <see cref="Silence"/>), or the socket error name.</summary>
    private static async Task<string> TryConnectAsync(LabHost from, string address, Socket listener)
    {
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        using var silence = new CancellationTokenSource(Silence);
        try
        {
            using Socket socket = await NamespaceSockets.ConnectAsync(from, IPAddress.Parse(address), port, silence.Token);
            using Socket accepted = await listener.AcceptAsync().WaitAsync(TestTimeouts.Unexpected);
            return "connected";
        }
        catch (OperationCanceledException)
        {
            return "silent";
        }
        catch (SocketException ex)
        {
            return ex.SocketErrorCode.ToString();
        }
    }

    private static async Task<string[]> MachineLinksAsync()
    {
        using var ip = Process.Start(new ProcessStartInfo("ip", "-o link show") { RedirectStandardOutput = true })!;
        string output = await ip.StandardOutput.ReadToEndAsync();
        await ip.WaitForExitAsync();
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(':')[1].Trim()).Order(StringComparer.Ordinal)];
    }

    private static async Task<int> PidOfAFinishedProcessAsync()
    {
        using var process = Process.Start(new ProcessStartInfo("true"))!;
        int pid = process.Id;
        await process.WaitForExitAsync();
        return pid;
    }
}
