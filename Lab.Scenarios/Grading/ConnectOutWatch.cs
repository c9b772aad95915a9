using System.Globalization;
using System.Text.Json;
using Lab.Scenarios.Harness;

namespace Lab.Scenarios.Grading;

/// <summary>
/// Sees a submission try to reach anything but loopback, without letting one packet leave: an
/// nftables table in the submission's network namespace records the destination of every TCP or UDP
/// packet its programs send off loopback, then rejects the packet on the spot.
/// </summary>
/// <remarks>
/// <para>
/// A namespace with only loopback would fail such a connect() with "Network is unreachable" before
/// any packet exists, so nothing could be seen. The sandbox therefore gives the namespace a default
/// route into a veth pair whose both ends stay inside it; the rule below sits on the output hook,
/// ahead of that route, and no packet gets past it — not even into the veth.
/// </para>
/// <para>
/// Only sockets of the submission's own user (<c>meta skuid</c>) are recorded: the grader's programs
/// run in the same namespace as root and must never be blamed. TCP gets a reset, so the student's
/// connect() fails at once instead of hanging until its timeout.
/// </para>
/// <example>
/// <code>
/// await HostCommand.RunAsync("ip", ["netns", "exec", ns, "nft", "-f", "-"], ConnectOutWatch.Ruleset(uid));
/// IReadOnlyList&lt;string&gt; tried = await ConnectOutWatch.TakeAsync(ns);   // ["10.1.2.3:80"], and the record starts over
/// </code>
/// </example>
/// </remarks>
internal static class ConnectOutWatch
{
    public const string Table = "rpclab_sandbox";

    /// <summary>True when <c>nft</c> is installed (Debian: <c>apt-get install nftables</c>).</summary>
    public static bool IsAvailable => HostCommand.Exists("nft");

    /// <summary>The nftables table for a namespace whose submission runs as <paramref name="uid"/>.</summary>
    public static string Ruleset(int uid) => $$"""
        table inet {{Table}} {
          set out4 { type ipv4_addr . inet_service; flags dynamic; size 4096; }
          set out6 { type ipv6_addr . inet_service; flags dynamic; size 4096; }
          chain output {
            type filter hook output priority 0; policy accept;
            oifname "lo" accept
            meta skuid {{uid}} meta l4proto { tcp, udp } meta nfproto ipv4 add @out4 { ip daddr . th dport }
            meta skuid {{uid}} meta l4proto { tcp, udp } meta nfproto ipv6 add @out6 { ip6 daddr . th dport }
            meta l4proto tcp reject with tcp reset
            reject with icmpx admin-prohibited
          }
        }
        """;

    /// <summary>
    /// The destinations recorded in <paramref name="networkNamespace"/> since the last call
    /// (<c>10.1.2.3:80</c>, <c>[2001:db8::1]:443</c>), then an empty record.
    /// </summary>
    public static async Task<IReadOnlyList<string>> TakeAsync(string networkNamespace, CancellationToken cancellationToken = default)
    {
        var destinations = new List<string>();
        foreach ((string set, bool ipv6) in new[] { ("out4", false), ("out6", true) })
        {
            // nsenter rather than `ip netns exec`: no mount namespace of its own to set up for a two-millisecond nft.
            string json = await HostCommand.RunAsync("nsenter", [$"--net=/run/netns/{networkNamespace}", "nft", "-j", "list", "set", "inet", Table, set], cancellationToken: cancellationToken);
            destinations.AddRange(Parse(json, ipv6));
            await HostCommand.RunAsync("nsenter", [$"--net=/run/netns/{networkNamespace}", "nft", "flush", "set", "inet", Table, set], cancellationToken: cancellationToken);
        }

        return destinations;
    }

    /// <summary>The elements of one set in <c>nft -j list set</c> output, as <c>address:port</c>.</summary>
    public static IEnumerable<string> Parse(string nftJson, bool ipv6)
    {
        using JsonDocument document = JsonDocument.Parse(nftJson);
        var found = new List<string>();
        foreach (JsonElement item in document.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (!item.TryGetProperty("set", out JsonElement set) || !set.TryGetProperty("elem", out JsonElement elements))
            {
                continue;
            }

            foreach (JsonElement element in elements.EnumerateArray())
            {
                JsonElement[] parts = [.. element.GetProperty("concat").EnumerateArray()];
                string address = parts[0].GetString() ?? "?";
                string port = parts[1].ValueKind == JsonValueKind.Number ? parts[1].GetInt32().ToString(CultureInfo.InvariantCulture) : parts[1].GetString() ?? "?";
                found.Add(ipv6 ? $"[{address}]:{port}" : $"{address}:{port}");
            }
        }

        return found.Order(StringComparer.Ordinal);
    }
}
