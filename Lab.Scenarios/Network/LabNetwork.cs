using System.Globalization;
using System.Text.RegularExpressions;

namespace Lab.Scenarios.Network;

/// <summary>
/// A lab network of several "machines" on this one Linux box: each host is a network namespace
/// whose only interface, <c>eth0</c>, is cabled (a veth pair) to a bridge that lives in a namespace
/// of its own. No lab packet touches the machine's own network stack: nothing is created there,
/// no route leads out, nothing is NATed.
/// </summary>
/// <remarks>
/// <para>
/// Addresses come from one test range used only inside these namespaces: host n gets
/// <c>10.77.0.(10+n)/24</c> and <c>fd00:77::(10+n)/64</c>. Every run builds its own namespaces, so
/// two runs at once may both use the range: their packets never meet.
/// </para>
/// <para>
/// Names: <c>rpclab-&lt;pid&gt;-&lt;n&gt;-&lt;host&gt;</c> and <c>...-bridge</c>. The owner's pid in the
/// name is what makes crash leftovers safe to remove: <see cref="RemoveLeftovers"/> deletes only the
/// namespaces of runs whose process is gone, never those of a run still going in parallel.
/// </para>
/// <para>
/// Faults are applied while programs run and healed the same way (see <see cref="NetworkFault"/>):
/// a pulled cable, a silent partition, a one-way cut and a refused route. Every host knows every
/// other host's MAC address in advance (permanent neighbour entries). That is why a pulled cable
/// is <i>silent</i>: without them the sender's ARP would fail after ~3 s and connect() would end at
/// once with "No route to host" — a quick refusal, where a host that vanished behind a router gives
/// only silence, and calls and connects must time out.
/// </para>
/// <para>Concurrency: faults may be applied from any task; teardown is idempotent and thread-safe.</para>
/// <example>
/// <code>
/// using LabNetwork network = await LabNetwork.CreateAsync(["registry", "server-a", "client-1"]);
/// NetworkFault cut = await network.PartitionAsync([network["client-1"]], [network["registry"]]);
/// await cut.HealAsync();
/// </code>
/// </example>
/// </remarks>
internal sealed partial class LabNetwork : IDisposable
{
    public const string NamePrefix = "rpclab-";
    public const string IPv4Range = "10.77.0.0/24";
    public const string IPv6Range = "fd00:77::/64";

    // A MAC no host owns, and an address for it: a route "via" it sends frames into the bridge that
    // no one accepts — packets vanish without an error, like across a broken link.
    private const string DeadEndMac = "02:77:00:00:00:fe";
    private const string DeadEndIPv4 = "10.77.0.254";
    private const string DeadEndIPv6 = "fd00:77::fe";

    private static int s_sequence;
    private static readonly Lock LiveGate = new();
    private static readonly HashSet<LabNetwork> Live = []; // guarded by LiveGate

    private readonly Lock _gate = new();
    private readonly List<string> _namespaces = []; // guarded by _gate: every namespace asked for, to delete
    private bool _disposed; // guarded by _gate

    private LabNetwork(string prefix, IReadOnlyList<LabHost> hosts)
    {
        BridgeNamespace = prefix + "bridge";
        Hosts = hosts;
    }

    /// <summary>The namespace holding the bridge <c>br0</c> and the bridge side of every cable.</summary>
    public string BridgeNamespace { get; }

    public IReadOnlyList<LabHost> Hosts { get; }

    /// <summary>Every namespace of this network: the bridge's and each host's.</summary>
    public IReadOnlyList<string> Namespaces => [BridgeNamespace, .. Hosts.Select(host => host.Namespace)];

    /// <summary>Namespaces of crashed earlier runs removed when this network was built.</summary>
    public IReadOnlyList<string> RemovedLeftovers { get; private init; } = [];

    /// <summary>The host named <paramref name="name"/>.</summary>
    public LabHost this[string name] => Hosts.Single(host => host.Name == name);

    /// <summary>Why lab networks cannot be built here, or null when they can (Linux, root, iproute2).</summary>
    public static string? UnsupportedReason()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces exist only on Linux";
        }

        if (!Environment.IsPrivilegedProcess)
        {
            return "creating network namespaces needs root (run the scenarios with sudo)";
        }

        string[] path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        return path.Any(directory => File.Exists(Path.Combine(directory, "ip"))) ? null : "iproute2's ip command is not installed";
    }

    /// <summary>
    /// Builds the network: the bridge, one host per name (in that order: host 1 is the first name),
    /// each cabled to the bridge, loopback up, addresses assigned, neighbours known.
    /// </summary>
    /// <remarks>Host names: lower-case letters, digits and dashes (they become part of namespace names).</remarks>
    public static async Task<LabNetwork> CreateAsync(IReadOnlyList<string> hostNames, bool ipv4 = true, bool ipv6 = true, CancellationToken cancellationToken = default)
    {
        if (hostNames.Count is 0 or > 80 || hostNames.Any(name => !HostName().IsMatch(name)) || hostNames.Distinct().Count() != hostNames.Count || !(ipv4 || ipv6))
        {
            throw new ArgumentException("1 to 80 distinct host names of [a-z0-9-], and at least one address family", nameof(hostNames));
        }

        IReadOnlyList<string> removed = RemoveLeftovers();
        string prefix = $"{NamePrefix}{Environment.ProcessId}-{Interlocked.Increment(ref s_sequence)}-";
        LabHost[] hosts = [.. hostNames.Select((name, index) => new LabHost(name, prefix + name, index + 1,
            ipv4 ? $"10.77.0.{11 + index}" : null, ipv6 ? $"fd00:77::{11 + index}" : null))];
        var network = new LabNetwork(prefix, hosts) { RemovedLeftovers = removed };
        lock (LiveGate)
        {
            Live.Add(network);
        }

        try
        {
            await network.BuildAsync(cancellationToken);
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Deletes the namespaces of lab networks whose owning process is gone (a crashed or killed run);
    /// returns their names. Namespaces of live runs, this one's or another's, are left alone.
    /// </summary>
    public static IReadOnlyList<string> RemoveLeftovers()
    {
        string[] dead = [.. ListOurNamespaces().Where(name => OwnerPid(name) is int pid && !Directory.Exists($"/proc/{pid}"))];
        if (dead.Length > 0)
        {
            IpCommand.Batch(null, [.. dead.Select(name => $"netns del {name}")], force: true);
        }

        return dead;
    }

    /// <summary>True while the named network namespace exists.</summary>
    public static bool Exists(string namespaceName) => File.Exists(Path.Combine("/run/netns", namespaceName));

    /// <summary>Every namespace in <c>/run/netns</c> named like a lab network's, whoever owns it.</summary>
    public static IReadOnlyList<string> ListOurNamespaces() =>
        Directory.Exists("/run/netns")
            ? [.. Directory.GetFiles("/run/netns").Select(Path.GetFileName).OfType<string>().Where(name => OwnerPid(name) is not null).Order(StringComparer.Ordinal)]
            : [];

    /// <summary>The pid encoded in a lab namespace name (<c>rpclab-4242-1-h1</c> → 4242), or null for any other name.</summary>
    public static int? OwnerPid(string namespaceName)
    {
        Match match = OurName().Match(namespaceName);
        return match.Success ? int.Parse(match.Groups["pid"].Value, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>Pulls <paramref name="host"/>'s cable (its bridge port goes down): its packets and those sent to it are lost without an error.</summary>
    public async Task<NetworkFault> UnplugAsync(LabHost host, CancellationToken cancellationToken = default)
    {
        await IpCommand.RunAsync(["-n", BridgeNamespace, "link", "set", host.BridgePort, "down"], cancellationToken);
        return new NetworkFault($"{host.Name}'s cable pulled", () => IpCommand.RunAsync(["-n", BridgeNamespace, "link", "set", host.BridgePort, "up"]));
    }

    /// <summary>
    /// A silent partition: no packet passes between a host of <paramref name="groupA"/> and one of
    /// <paramref name="groupB"/>, either way; connects and calls across it time out. Every other pair still talks.
    /// </summary>
    public Task<NetworkFault> PartitionAsync(IReadOnlyList<LabHost> groupA, IReadOnlyList<LabHost> groupB, CancellationToken cancellationToken = default) =>
        ApplyRoutesAsync($"partition {Names(groupA)} | {Names(groupB)}",
            [.. groupA.Select(host => (host, groupB)), .. groupB.Select(host => (host, groupA))],
            (target, ipv6) => ipv6 ? $"{target.IPv6}/128 via {DeadEndIPv6}" : $"{target.IPv4}/32 via {DeadEndIPv4}", cancellationToken);

    /// <summary>
    /// A one-way cut: a blackhole route on <paramref name="from"/> drops what it sends to
    /// <paramref name="to"/>. <paramref name="to"/>'s packets still arrive, but its connects and calls
    /// get no answer (silence); <paramref name="from"/>'s own connects fail at once (EINVAL from its kernel).
    /// </summary>
    public Task<NetworkFault> CutOneWayAsync(LabHost from, LabHost to, CancellationToken cancellationToken = default) =>
        ApplyRoutesAsync($"one-way cut {from.Name} -> {to.Name}", [(from, [to])],
            (target, ipv6) => ipv6 ? $"blackhole {target.IPv6}/128" : $"blackhole {target.IPv4}/32", cancellationToken);

    /// <summary>A refused route: <paramref name="from"/>'s kernel rejects at once (EACCES, "prohibited") whatever it sends to <paramref name="to"/>.</summary>
    public Task<NetworkFault> RefuseAsync(LabHost from, LabHost to, CancellationToken cancellationToken = default) =>
        ApplyRoutesAsync($"refused route {from.Name} -> {to.Name}", [(from, [to])],
            (target, ipv6) => ipv6 ? $"prohibit {target.IPv6}/128" : $"prohibit {target.IPv4}/32", cancellationToken);

    /// <summary>Deletes every namespace of this network (and with them every cable and the bridge). Idempotent.</summary>
    public void Dispose()
    {
        string[] namespaces;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            namespaces = [.. _namespaces];
        }

        lock (LiveGate)
        {
            Live.Remove(this);
        }

        // Hosts first, the bridge last; -force goes on past a namespace that was never created.
        IpCommand.Batch(null, [.. namespaces.Reverse().Select(name => $"netns del {name}")], force: true);
    }

    /// <summary>Tears down every network of this process: the last resort at process exit.</summary>
    public static void DisposeAll()
    {
        LabNetwork[] live;
        lock (LiveGate)
        {
            live = [.. Live];
        }

        foreach (LabNetwork network in live)
        {
            network.Dispose();
        }
    }

    private async Task BuildAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            // Recorded before they exist: a teardown racing the build deletes whatever got made.
            ObjectDisposedException.ThrowIf(_disposed, this);
            _namespaces.Add(BridgeNamespace);
            _namespaces.AddRange(Hosts.Select(host => host.Namespace));
        }

        await IpCommand.BatchAsync(null, [$"netns add {BridgeNamespace}", .. Hosts.Select(host => $"netns add {host.Namespace}")], cancellationToken);

        // Snooping off: the bridge then forwards IPv6 neighbour discovery like a plain switch.
        List<string> bridge = ["link set lo up", "link add br0 type bridge mcast_snooping 0", "link set br0 up"];
        foreach (LabHost host in Hosts)
        {
            bridge.Add($"link add {host.BridgePort} type veth peer name eth0 netns {host.Namespace}");
            bridge.Add($"link set {host.BridgePort} master br0");
            bridge.Add($"link set {host.BridgePort} up");
        }

        await IpCommand.BatchAsync(BridgeNamespace, bridge, cancellationToken);
        await Task.WhenAll(Hosts.Select(host => IpCommand.BatchAsync(host.Namespace, HostSetup(host), cancellationToken)));
    }

    private List<string> HostSetup(LabHost host)
    {
        List<string> commands = ["link set lo up", $"link set eth0 address {host.Mac}"];
        if (host.IPv4 is not null)
        {
            commands.Add($"addr add {host.IPv4}/24 dev eth0");
        }

        if (host.IPv6 is not null)
        {
            // nodad: usable at once, instead of "tentative" (bind fails) for the first second or two.
            commands.Add($"addr add {host.IPv6}/64 dev eth0 nodad");
        }

        commands.Add("link set eth0 up");
        foreach (LabHost other in Hosts.Where(other => other != host).Append(new LabHost("dead-end", "", 0, DeadEndIPv4, DeadEndIPv6)))
        {
            string mac = other.Number == 0 ? DeadEndMac : other.Mac;
            commands.AddRange(new[] { host.IPv4 is null ? null : other.IPv4, host.IPv6 is null ? null : other.IPv6 }
                .OfType<string>().Select(address => $"neigh replace {address} lladdr {mac} dev eth0 nud permanent"));
        }

        return commands;
    }

    private async Task<NetworkFault> ApplyRoutesAsync(string description, IReadOnlyList<(LabHost Host, IReadOnlyList<LabHost> Targets)> plan,
        Func<LabHost, bool, string> route, CancellationToken cancellationToken)
    {
        List<string> For(LabHost host, IReadOnlyList<LabHost> targets, string verb) =>
            [.. targets.SelectMany(target => new[]
            {
                host.IPv4 is not null && target.IPv4 is not null ? $"route {verb} {route(target, false)}" : null,
                host.IPv6 is not null && target.IPv6 is not null ? $"route {verb} {route(target, true)}" : null,
            }).OfType<string>()];

        await Task.WhenAll(plan.Select(step => IpCommand.BatchAsync(step.Host.Namespace, For(step.Host, step.Targets, "add"), cancellationToken)));
        return new NetworkFault(description, () => Task.WhenAll(plan.Select(step => IpCommand.BatchAsync(step.Host.Namespace, For(step.Host, step.Targets, "del")))));
    }

    private static string Names(IEnumerable<LabHost> hosts) => string.Join(", ", hosts.Select(host => host.Name));

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,30}$")]
    private static partial Regex HostName();

    [GeneratedRegex(@"^rpclab-(?<pid>\d+)-\d+-")]
    private static partial Regex OurName();
}

/// <summary>A fault applied to a <see cref="LabNetwork"/>; <see cref="HealAsync"/> undoes it (once).</summary>
internal sealed class NetworkFault(string description, Func<Task> heal)
{
    private int _healed;

    public string Description { get; } = description;

    public async Task HealAsync()
    {
        if (Interlocked.Exchange(ref _healed, 1) == 0)
        {
            await heal();
        }
    }

    public override string ToString() => Description;
}
