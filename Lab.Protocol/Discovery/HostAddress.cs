using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Lab.Protocol.Discovery;

/// <summary>Every rule about hosts and addresses, in one place: reading a listen address (<c>-l</c>), writing
/// <c>host:port</c>, and the wildcard hosts (0.0.0.0, ::) that mean "every interface" and so cannot be
/// dialled — the server advertises another host instead, the registry records the caller's address.</summary>
public static class HostAddress
{
    /// <summary>An IP address as given to <c>-l</c>; "localhost" is 127.0.0.1.</summary>
    /// <exception cref="FormatException">Not a full IPv4 or IPv6 address.</exception>
    public static IPAddress ParseListen(string host)
    {
        string trimmed = host.Trim().Trim('[', ']');
        if (trimmed.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            return IPAddress.Loopback;

        // IPAddress.TryParse reads "1.2.3" as 1.2.0.3; a listen address must be spelled out in full.
        bool complete = trimmed.Contains(':', StringComparison.Ordinal) || trimmed.Count(c => c == '.') == 3;
        return complete && IPAddress.TryParse(trimmed, out IPAddress? address)
            ? address
            : throw new FormatException($"invalid listen address \"{host}\": expected an IPv4 or IPv6 address such as 0.0.0.0, 127.0.0.1, :: or ::1");
    }

    /// <summary><c>host:port</c>, bracketing IPv6 literals so the port stays unambiguous.</summary>
    public static string Format(string host, int port) =>
        host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[')
            ? $"[{host}]:{port.ToString(CultureInfo.InvariantCulture)}"
            : $"{host}:{port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>An end point as <c>host:port</c>, an IPv4 peer of a dual-mode socket shown as IPv4.</summary>
    public static string Format(EndPoint? endPoint) =>
        endPoint is IPEndPoint ip ? Format(Dialable(ip.Address), ip.Port) : "unknown peer";

    /// <summary>The address as others can dial it: a dual-mode (::) socket sees IPv4 peers as ::ffff:1.2.3.4,
    /// which is 1.2.3.4.</summary>
    public static string Dialable(IPAddress address) =>
        (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();

    /// <summary>True for the addresses that mean "every interface" (and the empty host).</summary>
    public static bool IsWildcard(string? host) =>
        string.IsNullOrWhiteSpace(host)
        || (IPAddress.TryParse(host, out IPAddress? address) && (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)));

    /// <summary>The host a server bound to <paramref name="bound"/> registers: advertise_host if set; the bound
    /// address unless it is a wildcard; else this machine's first address of an interface that is up.</summary>
    public static string ChooseAdvertised(string advertiseHost, IPAddress bound)
    {
        if (!string.IsNullOrWhiteSpace(advertiseHost))
            return advertiseHost.Trim();
        if (!IsWildcard(bound.ToString()))
            return bound.ToString();

        IPAddress[] candidates = [.. NetworkInterface.GetAllNetworkInterfaces()
            .Where(nic => nic.OperationalStatus == OperationalStatus.Up && nic.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(nic => nic.GetIPProperties().UnicastAddresses)
            .Select(unicast => unicast.Address)
            .Where(address => !IPAddress.IsLoopback(address) && !address.IsIPv6LinkLocal)];
        bool v6 = bound.AddressFamily == AddressFamily.InterNetworkV6;
        IPAddress? choice = candidates.FirstOrDefault(address => address.AddressFamily == AddressFamily.InterNetwork)
                            ?? (v6 ? candidates.FirstOrDefault() : null);
        // No network at all: loopback is the only address that works (clients on this machine).
        return (choice ?? (v6 ? IPAddress.IPv6Loopback : IPAddress.Loopback)).ToString();
    }

    /// <summary>One spelling per host, so one server is one registry entry: <c>127.000.000.001</c>,
    /// <c>[::FFFF:7F00:1]</c> and <c>LOCALHOST</c> are all <c>127.0.0.1</c>, <c>Node-1.Lab</c> is <c>node-1.lab</c>.
    /// Without this the registry stored four entries for one server, and load balancing sent it four times its share.</summary>
    /// <exception cref="FormatException">Not an IP address, and not a host name (253 characters at most, labels of
    /// 1-63 letters, digits and hyphens).</exception>
    public static string Normalize(string host)
    {
        string bare = host.Trim() is ['[', .. var inside, ']'] ? inside : host.Trim();
        // The host is quoted in the error, which the registry answers and clients log: printable only.
        string shown = bare.Length <= 64 ? $"\"{PeerText.Printable(bare)}\"" : $"\"{PeerText.Printable(bare[..64])}...\" ({bare.Length} characters)";
        if (bare.Contains(':', StringComparison.Ordinal))
            return IPAddress.TryParse(bare, out IPAddress? v6) && v6.AddressFamily == AddressFamily.InterNetworkV6
                ? Dialable(v6)
                : throw new FormatException($"\"host\" is not a valid IPv6 address: {shown}");

        // Only digits and dots: meant as IPv4, so it must be four numbers 0-255 ("1.2.3" is not 1.2.0.3).
        if (bare.Length > 0 && bare.All(c => char.IsAsciiDigit(c) || c == '.'))
        {
            string[] parts = bare.Split('.');
            return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && int.Parse(p, CultureInfo.InvariantCulture) <= 255)
                ? string.Join('.', parts.Select(p => int.Parse(p, CultureInfo.InvariantCulture)))
                : throw new FormatException($"\"host\" is not a valid IPv4 address: {shown} (expected four numbers 0-255)");
        }

        string name = bare.TrimEnd('.').ToLowerInvariant();
        if (name.Length is 0 or > 253)
            throw new FormatException($"\"host\" must be 1 to 253 characters, not {shown}");
        // Letters, digits and hyphens, 1-63 per dot-separated label, no hyphen at either end (RFC 1123).
        if (name.Split('.').FirstOrDefault(label => label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-'
                                                    || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')) is { } bad)
            throw new FormatException($"\"host\" is not a valid host name: {shown} (label \"{PeerText.Printable(bad.Length <= 64 ? bad : bad[..64] + "...")}\")");
        // "localhost" is the loopback address by definition; as text it would be a second entry for it.
        return name == "localhost" ? IPAddress.Loopback.ToString() : name;
    }
}
