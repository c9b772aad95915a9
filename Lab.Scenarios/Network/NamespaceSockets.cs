using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Lab.Scenarios.Network;

/// <summary>
/// Lets the harness itself open connections "from" a lab host, so its registry probe and raw RPC
/// connections see exactly what a program on that host sees.
/// </summary>
/// <remarks>
/// A socket belongs to the network namespace of the thread that created it, for its whole life.
/// So a short-lived thread of our own enters the host's namespace (setns(2)), creates the socket
/// and ends; the socket is then used from any thread like any other. The thread is never given
/// back to the runtime, so no other code ever runs in the wrong namespace.
/// <example>
/// <code>
/// using var http = new HttpClient(NamespaceSockets.HttpHandler(network["registry"]));
/// Socket socket = NamespaceSockets.Create(host, AddressFamily.InterNetwork);
/// </code>
/// </example>
/// </remarks>
internal static partial class NamespaceSockets
{
    private const int CloneNewNet = 0x40000000;

    /// <summary>A TCP socket inside <paramref name="host"/>'s namespace.</summary>
    /// <exception cref="Win32Exception">The namespace could not be entered.</exception>
    public static Socket Create(LabHost host, AddressFamily family)
    {
        Socket? socket = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using SafeFileHandle handle = File.OpenHandle($"/run/netns/{host.Namespace}");
                if (SetNs(handle, CloneNewNet) != 0)
                {
                    throw new Win32Exception(Marshal.GetLastPInvokeError(), $"setns into {host.Namespace} failed");
                }

                socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        { IsBackground = true, Name = $"netns {host.Name}" };
        thread.Start();
        thread.Join();
        return socket ?? throw failure!;
    }

    /// <summary>Connects from <paramref name="host"/> to <paramref name="address"/>:<paramref name="port"/>.</summary>
    public static async Task<Socket> ConnectAsync(LabHost host, IPAddress address, int port, CancellationToken cancellationToken)
    {
        Socket socket = Create(host, address.AddressFamily);
        try
        {
            await socket.ConnectAsync(address, port, cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>An HTTP handler whose every connection starts on <paramref name="host"/> (URLs must use IP addresses).</summary>
    public static SocketsHttpHandler HttpHandler(LabHost host) => new()
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            Socket socket = await ConnectAsync(host, IPAddress.Parse(context.DnsEndPoint.Host.Trim('[', ']')), context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        },
    };

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(SafeFileHandle fd, int nstype);
}
