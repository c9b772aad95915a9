using System.Net;
using System.Net.Sockets;

namespace Lab.Tests.Server.Support;

/// <summary>
/// Breaks a running server's listening socket from outside, as a fault would: it finds the socket
/// among this process's open file descriptors and calls shutdown(2) on it. The server still holds the
/// descriptor, but its pending accept fails and no client can connect any more.
/// </summary>
public static class ListenerFault
{
    public static void Break(int port)
    {
        foreach (string path in Directory.GetFiles("/proc/self/fd"))
        {
            if (new FileInfo(path).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) != true
                || !int.TryParse(Path.GetFileName(path), out int fd))
            {
                continue;
            }

            // ownsHandle: false — the descriptor stays the server's; disposing this wrapper does not close it.
            var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: false));
            if (socket.SocketType == SocketType.Stream && socket.LocalEndPoint is IPEndPoint local && local.Port == port
                && socket.RemoteEndPoint is null)
            {
                socket.Shutdown(SocketShutdown.Both);
                return;
            }
        }

        throw new InvalidOperationException($"no listening socket on port {port} in this process");
    }
}
