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
}
