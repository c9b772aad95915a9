using System.Net;
using System.Net.Sockets;

namespace Lab.Tests.Client.Support;

/// <summary>
/// A listener that never accepts and whose backlog is full, so a new connection attempt gets no answer
/// at all and hangs — the way a connect to an overloaded or unreachable server does — instead of
/// being refused. (Linux drops a SYN when the listener's accept queue is full.)
/// </summary>
public sealed class FullBacklogServer : IDisposable
{
    // How long one filler connect may take before we conclude the queue is full. A loopback connect
    // completes in the kernel within microseconds; a full second leaves room for a busy machine, so
    // a slow thread pool is never mistaken for a full queue. Only the filling step waits on it.
    private static readonly TimeSpan FillerConnectTimeout = TimeSpan.FromSeconds(1);

    private readonly Socket _listener;
    private readonly List<Socket> _fillers = [];

    private FullBacklogServer(Socket listener)
    {
        _listener = listener;
        Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    public string Address => $"{Host}:{Port}";

    public static async Task<FullBacklogServer> StartAsync()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var server = new FullBacklogServer(listener);
        await server.FillBacklogAsync();
        return server;
    }

    public void Dispose()
    {
        foreach (Socket filler in _fillers)
        {
            filler.Dispose();
        }

        _listener.Dispose();
    }

    private async Task FillBacklogAsync()
    {
        for (int attempt = 0; attempt < 64; attempt++)
        {
            var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using var timeout = new CancellationTokenSource(FillerConnectTimeout);
            try
            {
                await filler.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port), timeout.Token);
                _fillers.Add(filler);
            }
            catch (OperationCanceledException)
            {
                filler.Dispose();
                return;
            }
        }

        throw new InvalidOperationException("the listener's backlog never filled up");
    }
}
