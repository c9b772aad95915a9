using System.Net;
using System.Net.Sockets;

namespace Lab.Tests.Protocol;

/// <summary>Two connected TCP sockets on 127.0.0.1 (a free port), wrapped as streams: a real TCP byte stream for framing tests.</summary>
public sealed class SocketPair : IAsyncDisposable
{
    private SocketPair(Socket client, Socket server)
    {
        Client = client;
        Server = server;
        ClientStream = new NetworkStream(client, ownsSocket: true);
        ServerStream = new NetworkStream(server, ownsSocket: true);
    }

    public Socket Client { get; }

    public Socket Server { get; }

    public NetworkStream ClientStream { get; }

    public NetworkStream ServerStream { get; }

    public static async Task<SocketPair> ConnectAsync()
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Unexpected);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Task<Socket> accept = listener.AcceptAsync(timeout.Token).AsTask();
        await client.ConnectAsync(listener.LocalEndPoint!, timeout.Token);
        return new SocketPair(client, await accept);
    }

    public async ValueTask DisposeAsync()
    {
        await ClientStream.DisposeAsync();
        await ServerStream.DisposeAsync();
    }
}
