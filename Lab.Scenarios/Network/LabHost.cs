namespace Lab.Scenarios.Network;

/// <summary>
/// One machine of the lab network: a network namespace with one interface, <c>eth0</c>, cabled to
/// the network's bridge, and its own addresses from the lab's test range.
/// </summary>
/// <param name="Name">The role the narration uses: <c>registry</c>, <c>server-a</c>, <c>client-3</c>.</param>
/// <param name="Namespace">The namespace (<c>ip netns exec Namespace ...</c> runs a program on this host).</param>
/// <param name="Number">1-based; the addresses end in <c>10 + Number</c>.</param>
/// <param name="IPv4">e.g. <c>10.77.0.11</c>, or null on an IPv6-only network.</param>
/// <param name="IPv6">e.g. <c>fd00:77::11</c>, or null on an IPv4-only network.</param>
internal sealed record LabHost(string Name, string Namespace, int Number, string? IPv4, string? IPv6)
{
    /// <summary>The address programs use to reach this host: IPv4 where it has one, else IPv6.</summary>
    public string Address => IPv4 ?? IPv6!;

    /// <summary>The bridge-side end of this host's cable (in the bridge's namespace).</summary>
    public string BridgePort => $"h{Number}";

    /// <summary>A fixed MAC, so every host can know every other host's without asking (see <see cref="LabNetwork"/>).</summary>
    public string Mac => $"02:77:00:00:00:{10 + Number:D2}";

    /// <summary>Both addresses, as the narration shows them.</summary>
    public string Addresses => string.Join(" and ", new[] { IPv4, IPv6 }.OfType<string>());

    public override string ToString() => $"{Name} ({Addresses})";
}
