using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Lab.Protocol.Discovery;

/// <summary>
/// One spelling per host, so one server is one registry entry: <c>127.000.000.001</c>,
/// <c>::ffff:127.0.0.1</c> and <c>LOCALHOST</c> are all <c>127.0.0.1</c>. Without this the registry
/// stored four entries for one server, and load balancing sent it four times its share.
/// </summary>
/// <example>
/// <code>
/// HostName.Normalize("[::FFFF:7F00:1]");   // "127.0.0.1"
/// HostName.Normalize("Node-1.Lab");        // "node-1.lab"
/// HostName.Normalize("1.2.3");             // FormatException: not a valid IPv4 address
/// </code>
/// </example>
public static class HostName
{
    /// <summary>The canonical text of an IP address or host name.</summary>
    /// <exception cref="FormatException">Not an IP address, and not a host name (253 characters at most, labels of 1-63 letters, digits and hyphens).</exception>
    public static string Normalize(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        string bare = host.Trim() is ['[', .. var inside, ']'] ? inside : host.Trim();
        string shown = bare.Length <= 64 ? $"\"{bare}\"" : $"\"{bare[..64]}...\" ({bare.Length} characters)";
        if (bare.Contains(':', StringComparison.Ordinal))
        {
            return IPAddress.TryParse(bare, out IPAddress? v6) && v6.AddressFamily == AddressFamily.InterNetworkV6
                ? (v6.IsIPv4MappedToIPv6 ? v6.MapToIPv4() : v6).ToString()
                : throw new FormatException($"\"host\" is not a valid IPv6 address: {shown}");
        }

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
        {
            throw new FormatException($"\"host\" must be 1 to 253 characters, not {shown}");
        }

        // Letters, digits and hyphens, 1-63 per dot-separated label, no hyphen at either end (RFC 1123).
        if (name.Split('.').FirstOrDefault(label => label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-'
                                                    || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')) is { } bad)
        {
            throw new FormatException($"\"host\" is not a valid host name: {shown} (label \"{(bad.Length <= 64 ? bad : bad[..64] + "...")}\")");
        }

        // "localhost" is the loopback address by definition; as text it would be a second entry for it.
        return name == "localhost" ? IPAddress.Loopback.ToString() : name;
    }
}
