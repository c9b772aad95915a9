using System.Net;
using System.Net.Sockets;

namespace Lab.Testing;

/// <summary>
/// A listening port that never accepts and whose accept queue is already full, so a new connection
/// attempt gets no answer at all — the client's connect phase can only end by its own timeout
/// (lab requirements §7, "client: connecting to the server").
/// </summary>
/// <remarks>
/// The queue is filled by the harness itself: it keeps connecting until one attempt stays pending
/// (the OS now drops SYNs for this port). That is an observed event, not a guess about the backlog
/// size, which differs between operating systems. Windows answers a full queue with a reset
/// instead of silence; the client then reports a connection error, which still names the phase.
/// <example>
/// <code>
/// await using var listener = await FullBacklogListener.StartAsync(token);
/// // run: Lab.ClientApp -m server -i 127.0.0.1 -p {listener.Port} add 1 2   → connect timeout
/// </code>
/// </example>
/// </remarks>
public sealed class FullBacklogListener : IAsyncDisposable, IDisposable
{
    // How long one filler connect may take before we conclude the queue is full. A loopback connect
    // completes in the kernel within microseconds; a full second leaves room for a busy machine, so
    // a slow thread pool is never mistaken for a full queue. Only the filling step waits on it.
    private static readonly TimeSpan FillerConnectTimeout = TimeSpan.FromSeconds(1);

    private readonly Socket _listener;
    private readonly List<Socket> _fillers = [];

    private FullBacklogListener()
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(1);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    public string Address => $"{Host}:{Port}";

    /// <summary>How many connections it took to fill the queue.</summary>
    public int FillerCount => _fillers.Count;

    public static async Task<FullBacklogListener> StartAsync(CancellationToken cancellationToken = default)
    {
        var listener = new FullBacklogListener();
        try
        {
            for (int attempt = 0; attempt < 64; attempt++)
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                listener._fillers.Add(filler);
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                deadline.CancelAfter(FillerConnectTimeout);
                try
                {
                    await filler.ConnectAsync(new IPEndPoint(IPAddress.Loopback, listener.Port), deadline.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return listener; // this attempt got no answer: the queue is full
                }
                catch (SocketException)
                {
                    return listener; // refused outright (Windows): just as full
                }
            }

            throw new InvalidOperationException("the accept queue never filled up after 64 connections");
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (Socket filler in _fillers)
        {
            filler.Dispose();
        }

        _listener.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
