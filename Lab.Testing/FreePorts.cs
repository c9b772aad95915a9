using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Lab.Testing;

/// <summary>
/// Ports for a program that must be told its port before it starts (an etcd member and its peers, a
/// foreign server that cannot report the port it got, an address where "the registry is down").
/// Everything else binds port 0 and reads back the port the kernel chose.
/// </summary>
/// <remarks>
/// <para>
/// The obvious way — bind port 0, read the port, close, hand it over — races every other bind to port
/// 0 on the machine: the kernel may give the same port to the next program that asks, before ours
/// binds it. With scenarios running side by side, the next program is never far away. So the ports
/// come from just below the kernel's ephemeral range (Linux's <c>ip_local_port_range</c>, which port 0
/// draws from), where no bind to port 0 ever lands; each is checked free with a bind, and this process
/// never hands out the same port twice in a row of the range.
/// </para>
/// <para>Concurrency: thread-safe (one interlocked counter).</para>
/// <example>
/// <code>
/// int port = FreePorts.Pick();                       // e.g. 24117, free on 127.0.0.1 right now
/// int v6 = FreePorts.Pick(IPAddress.IPv6Loopback);
/// </code>
/// </example>
/// </remarks>
public static class FreePorts
{
    private const int RangeSize = 8192;

    private static readonly (int First, int Count) Range = BelowEphemeralRange();

    // A random start: two test processes or runners at once start far apart in the range.
    private static int s_next = Random.Shared.Next(Range.Count);

    /// <summary>A port nothing listens on at <paramref name="address"/> (loopback by default) right now, outside the ephemeral range.</summary>
    /// <exception cref="InvalidOperationException">Every port of the range is taken.</exception>
    public static int Pick(IPAddress? address = null)
    {
        address ??= IPAddress.Loopback;
        for (int attempt = 0; attempt < Range.Count; attempt++)
        {
            int port = Range.First + (int)((uint)Interlocked.Increment(ref s_next) % (uint)Range.Count);
            try
            {
                using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                probe.Bind(new IPEndPoint(address, port));
                return port;
            }
            catch (SocketException)
            {
                // Taken (or reserved): try the next one.
            }
        }

        throw new InvalidOperationException($"no free port from {Range.First} to {Range.First + Range.Count - 1}");
    }

    // Linux: the ports just below ip_local_port_range; elsewhere (Windows and macOS draw port 0 from
    // 49152 and up) the same numbers as Linux's default.
    private static (int First, int Count) BelowEphemeralRange()
    {
        int ephemeralStart = 32768;
        const string rangeFile = "/proc/sys/net/ipv4/ip_local_port_range";
        if (OperatingSystem.IsLinux() && File.Exists(rangeFile)
            && int.TryParse(File.ReadAllText(rangeFile).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out int start))
        {
            ephemeralStart = start;
        }

        int first = Math.Max(1024, ephemeralStart - RangeSize);
        return (first, Math.Max(1, ephemeralStart - first));
    }
}
